//! The storage conformance suite on the embedded store (redb in a temp dir).

switchboard_tests::store_conformance!(switchboard_tests::embedded_store());
