require ["fileinto", "vacation"];
if header :contains "subject" "회의" { fileinto "회의"; stop; }
vacation :days 3 "부재중입니다";
