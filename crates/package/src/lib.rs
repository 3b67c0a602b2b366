//! `deployer-package`: file selection like Serverless v3 and deterministic zip artifacts with
//! content hashes. Pure: no AWS, no network.
