//! The storage conformance suite on DynamoDB Local (a fresh table per case).

switchboard_tests::store_conformance!(((), switchboard_tests::dynamo_store().await));
