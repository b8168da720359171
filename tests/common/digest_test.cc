#include "common/digest.h"

#include <catch2/catch.hpp>

namespace hubmirror {
namespace {

TEST_CASE("git blob id matches git's own value", "[digest]") {
  // huggingface_hub's test vector for utils/sha.py git_hash.
  CHECK(GitObjectId("blob", "Hello, World!") == "b45ef6fec89518d314f546fd6c3025367b721684");
  CHECK(GitObjectId("blob", "") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

TEST_CASE("ContentHasher computes both identities in one pass", "[digest]") {
  std::string content = "Hello, World!";
  ContentHasher hasher(content.size());
  hasher.Update(content.data(), 5);
  hasher.Update(content.data() + 5, content.size() - 5);
  auto digests = hasher.Finish();
  CHECK(digests.sha256 == "dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f");
  CHECK(digests.git_sha1 == "b45ef6fec89518d314f546fd6c3025367b721684");
}

TEST_CASE("LFS pointer and its git oid match the Hub's values", "[digest]") {
  // google-bert/bert-base-uncased tf_model.h5 (hub-samples/lfs-pointer_git-oid_verification.txt).
  std::string pointer =
      LfsPointer("a7a17d6d844b5de815ccab5f42cad6d24496db3850a2a43d8258221018ce87d2", 536063208);
  CHECK(pointer.size() == 134);
  CHECK(GitObjectId("blob", pointer) == "9eb98c817f04b051b3bcca591bcd4e03cec88018");
}

TEST_CASE("hex helpers", "[digest]") {
  const unsigned char bytes[] = {0x00, 0xab, 0xff};
  CHECK(ToHex(bytes, 3) == "00abff");
  CHECK(IsSha1Hex(std::string(40, 'a')));
  CHECK_FALSE(IsSha1Hex(std::string(40, 'A')));
  CHECK_FALSE(IsSha256Hex(std::string(63, '0')));
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace hubmirror
