#include "leafsync/ConfigNode.h"

#include <algorithm>
#include <vector>

#include "leafsync/ConfigError.h"

namespace leafsync {
namespace {

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

bool startsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

ConfigNode ConfigNode::load(const std::string& file) {
  try {
    return ConfigNode(YAML::LoadFile(file), file);
  } catch (const YAML::Exception& e) {
    throw ConfigError("cannot load '" + file + "': " + e.what());
  }
}

ConfigNode::ConfigNode(YAML::Node node, std::string file)
    : node_(std::move(node)), doc_(std::make_shared<Document>(Document{std::move(file), {}})) {}

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Document> doc)
    : node_(std::move(node)), path_(std::move(path)), doc_(std::move(doc)) {}

ConfigNode ConfigNode::operator[](const std::string& key) const {
  std::string path = join(path_, key);
  doc_->read.insert(path);
  const YAML::Node& self = node_;  // const lookup: never adds the key to the document
  // An absent key is a node that throws on every question but IsDefined(): ask that first,
  // so that lookups chain through absent sections ("database.url" without `database:`).
  YAML::Node child = self.IsDefined() && self.IsMap() ? self[key] : YAML::Node(YAML::NodeType::Undefined);
  return ConfigNode(child, std::move(path), doc_);
}

ConfigNode ConfigNode::Iterator::operator*() const { return ConfigNode(*it_, list_->path_ + "[]", list_->doc_); }

ConfigNode::Iterator ConfigNode::begin() const {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsSequence()) {
    throw ConfigError(doc_->file + ": " + path_ + " must be a list");
  }
  return Iterator(node_.begin(), this);
}

ConfigNode::Iterator ConfigNode::end() const { return Iterator(node_.end(), this); }

void ConfigNode::rejectUnknownKeys() const {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    throw ConfigError(doc_->file + ": must be a mapping of settings");
  }
  checkKeys(node_, path_);
}

void ConfigNode::checkKeys(const YAML::Node& node, const std::string& path) const {
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) checkKeys(item, path + "[]");
    return;
  }
  if (!node.IsMap()) return;
  for (const auto& entry : node) {
    std::string key = join(path, entry.first.Scalar());
    if (!doc_->read.count(key)) {
      // The loader reads every key of a section it reads, present or not: the keys it asked
      // for beside this one are the candidates for a typo.
      std::string nearest;
      std::size_t best = std::max<std::size_t>(2, key.size() / 4) + 1;
      for (const std::string& known : doc_->read) {
        if (known.rfind('.') != key.rfind('.') || !startsWith(known, key.substr(0, key.rfind('.') + 1))) continue;
        std::size_t d = editDistance(key, known);
        if (d < best) {
          best = d;
          nearest = known;
        }
      }
      throw ConfigError(doc_->file + ": unknown setting '" + key + "'" +
                        (nearest.empty() ? std::string() : " (did you mean '" + nearest + "'?)"));
    }
    // Descend where the loader read keys below this one (a section, the items of a list).
    bool has_children = std::any_of(doc_->read.begin(), doc_->read.end(), [&](const std::string& known) {
      return startsWith(known, key + ".") || startsWith(known, key + "[].");
    });
    if (has_children) checkKeys(entry.second, key);
  }
}

}  // namespace leafsync
