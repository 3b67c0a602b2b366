//! Test support: starts `moto_server` on a free loopback port, provisions accounts and writes an
//! AWS config/credentials pair pointing at them.
