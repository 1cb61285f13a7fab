//! The avatar suite on DynamoDB Local (a fresh table per case), with a bucket in s3s-fs.

switchboard_tests::avatar_suite!(
    switchboard_tests::api::Api::dynamodb()
        .await
        .with_bucket()
        .await
);
