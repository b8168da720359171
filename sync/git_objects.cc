#include "sync/git_objects.h"

#include <algorithm>
#include <memory>

#include "common/digest.h"

namespace hubmirror::sync {
namespace {

struct TreeNode {
  std::map<std::string, std::string> files;  // name -> blob id
  std::map<std::string, std::unique_ptr<TreeNode>> directories;
};

std::string HexToBytes(const std::string& hex) {
  std::string bytes(hex.size() / 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return bytes;
}

std::string WriteTree(const TreeNode& node, const std::string& path, GitTrees* out) {
  struct Item {
    std::string sort_key;
    std::string mode;
    std::string name;
    std::string id;
  };
  std::vector<Item> items;
  for (const auto& [name, id] : node.files) items.push_back({name, "100644", name, id});
  for (const auto& [name, child] : node.directories) {
    std::string child_path = path.empty() ? name : path + "/" + name;
    std::string id = WriteTree(*child, child_path, out);
    out->directory_ids[child_path] = id;
    items.push_back({name + "/", "40000", name, id});
  }
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.sort_key < b.sort_key; });
  std::string payload;
  for (const auto& item : items) {
    payload += item.mode + " " + item.name;
    payload += '\0';
    payload += HexToBytes(item.id);
  }
  return GitObjectId("tree", payload);
}

}  // namespace

GitTrees BuildGitTrees(const std::vector<GitTreeFile>& files) {
  TreeNode root;
  for (const auto& file : files) {
    TreeNode* node = &root;
    size_t start = 0;
    for (size_t slash; (slash = file.path.find('/', start)) != std::string::npos;
         start = slash + 1) {
      auto& child = node->directories[file.path.substr(start, slash - start)];
      if (!child) child = std::make_unique<TreeNode>();
      node = child.get();
    }
    node->files[file.path.substr(start)] = file.blob_id;
  }
  GitTrees trees;
  trees.root_id = WriteTree(root, "", &trees);
  return trees;
}

std::string GitCommitId(const std::string& tree_id, const std::string& parent_id,
                        const std::string& identity, int64_t unix_seconds,
                        const std::string& message) {
  std::string when = std::to_string(unix_seconds) + " +0000";
  std::string payload = "tree " + tree_id + "\n";
  if (!parent_id.empty()) payload += "parent " + parent_id + "\n";
  payload += "author " + identity + " " + when + "\n";
  payload += "committer " + identity + " " + when + "\n\n";
  payload += message;
  return GitObjectId("commit", payload);
}

}  // namespace hubmirror::sync
