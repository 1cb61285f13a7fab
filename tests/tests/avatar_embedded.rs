//! The avatar suite on the embedded store, with a bucket in s3s-fs.

switchboard_tests::avatar_suite!(
    switchboard_tests::api::Api::embedded()
        .await
        .with_bucket()
        .await
);
