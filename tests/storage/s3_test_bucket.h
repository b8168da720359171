#pragma once

#include <memory>
#include <string>

#include "storage/s3_client.h"

namespace hubmirror::storage::testing {

// A client of a new bucket on the S3 server the s3_server fixture started for this run (its
// endpoint and keys are in $HUBMIRROR_TEST_S3_DIR/env): named after `name`, this process and a
// counter, so that every call gets a bucket of its own; its keys under `prefix`. Fails the test
// when the server cannot be reached.
std::unique_ptr<S3Client> NewTestBucket(const std::string& name, const std::string& prefix = "");

// The credentials of the fixture's S3 user.
S3Credentials TestCredentials();

// The same bucket through another client: another prefix, or signing with another secret.
std::unique_ptr<S3Client> SameBucket(const S3Client& client, const std::string& prefix,
                                     const std::string& secret = "");

}  // namespace hubmirror::storage::testing
