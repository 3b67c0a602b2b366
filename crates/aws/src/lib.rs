//! `deployer-aws`: everything that talks to AWS — stage credentials and the account guard,
//! S3 artifacts, CloudFormation stack operations and AWS-backed variable sources.
