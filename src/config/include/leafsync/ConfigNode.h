#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <set>
#include <string>

namespace leafsync {

// A node of a service's YAML config file that remembers which keys the loader asked for, so
// that a key the file has and no loader reads — a typo such as `apply.batchsize`, which would
// otherwise fall back to the default in silence — is refused at start, named. The known keys
// are exactly the lookups the loader makes (`http["port"]`): adding a setting to a loader is
// the only step, there is no second list to keep in step.
class ConfigNode {
 public:
  // The document of `file`; throws ConfigError when it cannot be read or parsed.
  static ConfigNode load(const std::string& file);
  ConfigNode(YAML::Node node, std::string file);

  // The child `key` of a mapping (undefined when absent or when this is not a mapping);
  // records "<path>.<key>" as a key the loader reads.
  ConfigNode operator[](const std::string& key) const;
  explicit operator bool() const { return node_.IsDefined(); }
  const YAML::Node& yaml() const { return node_; }
  // The dotted key of this node ("http.port", "topics[].name").
  const std::string& path() const { return path_; }
  // The file the document was loaded from.
  const std::string& file() const { return doc_->file; }

  // The items of a list ("topics[]"); an absent key is an empty list, another type an error.
  class Iterator {
   public:
    Iterator(YAML::const_iterator it, const ConfigNode* list) : it_(it), list_(list) {}
    ConfigNode operator*() const;
    Iterator& operator++() {
      ++it_;
      return *this;
    }
    bool operator!=(const Iterator& other) const { return it_ != other.it_; }

   private:
    YAML::const_iterator it_;
    const ConfigNode* list_;
  };
  Iterator begin() const;
  Iterator end() const;

  // Throws ConfigError naming the file and the first key it holds that the loader never asked
  // for (with the nearest known key when one is close: a typo). Call after every read.
  void rejectUnknownKeys() const;

 private:
  struct Document {
    std::string file;
    std::set<std::string> read;  // dotted keys the loader looked up
  };
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Document> doc);
  void checkKeys(const YAML::Node& node, const std::string& path) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<Document> doc_;
};

}  // namespace leafsync
