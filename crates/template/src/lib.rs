//! `deployer-template`: compiles the service model into the CloudFormation templates that
//! Serverless v3 produces, with the same logical IDs. Pure: no AWS, no network.
