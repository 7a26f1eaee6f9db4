//! The hickory resolver pointed at a small DNS server in the test (UDP on 127.0.0.1):
//! MX records, TXT records (MTA-STS), null MX, a domain without MX (A/AAAA fallback)
//! and a missing domain.

use std::net::Ipv4Addr;
use std::str::FromStr;

use certmail_smtp::outbound::route::mx_hosts;
use certmail_smtp::outbound::{HickoryResolver, MxAnswer, Resolver};
use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::time::{Duration, timeout};

const STEP: Duration = Duration::from_secs(10);

fn answer(query: &Message) -> Message {
    let mut out = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    out.metadata.recursion_desired = query.metadata.recursion_desired;
    out.metadata.recursion_available = true;
    let Some(q) = query.queries.first() else {
        out.metadata.response_code = ResponseCode::FormErr;
        return out;
    };
    out.add_query(q.clone());
    let name = q.name().to_ascii().to_ascii_lowercase();
    let record = |rdata: RData| Record::from_rdata(q.name().clone(), 60, rdata);
    let host = |h: &str| Name::from_str(h).expect("name");
    match (name.as_str(), q.query_type()) {
        ("remote.kr.", RecordType::MX) => {
            out.add_answer(record(RData::MX(MX::new(20, host("mx2.remote.kr.")))));
            out.add_answer(record(RData::MX(MX::new(10, host("mx1.remote.kr.")))));
        }
        ("_mta-sts.remote.kr.", RecordType::TXT) => {
            let parts = vec!["v=STSv1; ".to_string(), "id=20261207;".to_string()];
            out.add_answer(record(RData::TXT(TXT::new(parts))));
        }
        ("null.kr.", RecordType::MX) => {
            out.add_answer(record(RData::MX(MX::new(0, Name::root()))));
        }
        ("mx1.remote.kr.", RecordType::A) | ("plain.kr.", RecordType::A) => {
            out.add_answer(record(RData::A(A(Ipv4Addr::LOCALHOST))));
        }
        // Names that exist, without records of the asked type.
        ("plain.kr.", _) | ("mx1.remote.kr.", _) | ("mx2.remote.kr.", _) | ("remote.kr.", _) => {}
        _ => out.metadata.response_code = ResponseCode::NXDomain,
    }
    out
}

async fn dns_server() -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if let Ok(bytes) = answer(&query).to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn hickory_answers_mx_null_mx_fallback_and_nxdomain() {
    let server = dns_server().await;
    let resolver = HickoryResolver::new(&[server]).expect("resolver");

    let hosts = timeout(STEP, mx_hosts(&resolver, "remote.kr"))
        .await
        .expect("in time");
    assert_eq!(
        hosts,
        Ok(vec![
            "mx1.remote.kr".to_string(),
            "mx2.remote.kr".to_string()
        ])
    );
    let ips = timeout(STEP, resolver.ip("mx1.remote.kr"))
        .await
        .expect("in time")
        .expect("lookup");
    assert_eq!(ips, vec![std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)]);

    let txt = timeout(STEP, resolver.txt("_mta-sts.remote.kr"))
        .await
        .expect("in time");
    assert_eq!(
        txt,
        Ok(vec!["v=STSv1; id=20261207;".to_string()]),
        "strings joined"
    );
    let none = timeout(STEP, resolver.txt("_mta-sts.nowhere.kr"))
        .await
        .expect("in time");
    assert_eq!(none, Ok(Vec::new()), "NXDOMAIN: no record");

    let null = timeout(STEP, mx_hosts(&resolver, "null.kr"))
        .await
        .expect("in time")
        .expect_err("null MX");
    assert_eq!((null.code, null.status()), (556, "5.1.10".to_string()));

    let plain = timeout(STEP, resolver.mx("plain.kr"))
        .await
        .expect("in time");
    assert_eq!(plain, Ok(MxAnswer::NoRecords));
    assert_eq!(
        timeout(STEP, mx_hosts(&resolver, "plain.kr"))
            .await
            .expect("in time"),
        Ok(vec!["plain.kr".to_string()]),
        "RFC 5321 §5.1: the domain itself is the implicit MX"
    );

    let missing = timeout(STEP, mx_hosts(&resolver, "nowhere.kr"))
        .await
        .expect("in time")
        .expect_err("NXDOMAIN");
    assert_eq!((missing.code, missing.status()), (550, "5.1.2".to_string()));
}
