//! A test and development PKI shaped like GPKI/EPKI/NPKI (feature `testpki`).
