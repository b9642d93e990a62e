// HTTP as clients and attackers speak it, over raw sockets to both real services and the batch job: every answer
// is JSON {"detail": ...} with its code, bodies too large are refused from their
// Content-Length before they are read, pipelined requests are all answered in order,
// `Expect: 100-continue` is answered, malformed heads get a 400 and a close, and held
// connections are closed by the header and idle timeouts (docs/api.md).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

// The services' HttpLimits (RequestGate.h): the timeouts the tests wait out.
constexpr auto kHeaderTimeout = 10s;
constexpr auto kIdleTimeout = 10s;
constexpr std::size_t kProducerMaxBody = 65536;  // ConsumerSetup's producer.yaml

// One client connection, read response by response.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  // Sends all of `data` (false when the server has closed or reset the connection).
  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // The next response (status 0 when none came within `timeout`).
  testing::HttpResponse next(std::chrono::milliseconds timeout = 5000ms) {
    testing::HttpResponse response;
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer_.substr(0, end);
        std::size_t length = contentLength(head);
        if (buffer_.size() >= end + 4 + length) {
          response.status = std::atoi(head.c_str() + head.find(' ') + 1);
          response.headers = head;
          response.body = buffer_.substr(end + 4, length);
          buffer_.erase(0, end + 4 + length);
          return response;
        }
      }
      if (!fill(until)) return response;
    }
  }

  // Whether the server closes the connection (EOF or reset) within `timeout`; answers that
  // come first are kept for next().
  bool closedWithin(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (fill(until)) {
    }
    return closed_;
  }
  const std::string& unread() const { return buffer_; }

 private:
  static std::size_t contentLength(const std::string& head) {
    std::string lower;
    for (char c : head) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto pos = lower.find("content-length:");
    return pos == std::string::npos ? 0 : std::strtoull(head.c_str() + pos + 15, nullptr, 10);
  }
  // Reads what arrives before `until`; false on timeout or once the server closed.
  bool fill(std::chrono::steady_clock::time_point until) {
    if (closed_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  std::string buffer_;
};

std::string batchBinary() {
  std::string producer = testing::producerBinary();
  return producer.substr(0, producer.find_last_of('/') + 1) + "leafsync-batch-sync";
}

// The two services and the batch job, started once: these tests send no valid write.
class HttpProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    setup_ = new testing::ConsumerSetup(*dir_);
    consumer_ = new testing::ConsumerProcess(*setup_, dir_->file("consumer.log"));
    producer_ = new testing::ProducerProcess(*setup_, dir_->file("producer.log"));
    consumer_->start();
    producer_->start();
    producer_->waitStarted();  // the batch job reads the source it creates
    batch_ = new testing::ServiceProcess(batchBinary(),
                                         {"--source", "sqlite:" + setup_->source_database_path, "--copy",
                                          "sqlite:" + dir_->file("batch_copy.sqlite"), "--period-s", "600",
                                          "--http-port", "0"},
                                         dir_->file("batch.log"));
    batch_->start();
    batch_->waitStarted();
    ASSERT_TRUE(consumer_->waitReady()) << consumer_->log();
  }
  static void TearDownTestSuite() {
    delete batch_;
    delete consumer_;
    delete producer_;
    delete setup_;
    delete dir_;
  }

  struct Service {
    const char* name;
    std::uint16_t port;
  };
  static std::vector<Service> services() {
    return {{"consumer", consumer_->port()}, {"producer", producer_->port()}, {"batch job", batch_->port()}};
  }

  // A sample of `port`'s /metrics, `series` as exposed (labels in name order); 0 when absent.
  static double metric(std::uint16_t port, const std::string& series) {
    std::string text = testing::httpRequest(port, "GET", "/metrics").body;
    auto pos = text.find("\n" + series + " ");
    return pos == std::string::npos ? 0.0 : std::stod(text.substr(pos + series.size() + 2));
  }
  static std::string refusedSeries(int code, const std::string& reason) {
    return "leafsync_http_refused_total{code=\"" + std::to_string(code) + "\",reason=\"" + reason + "\"}";
  }

  // A JSON {"detail": "..."} answer with `status` whose detail contains `detail_part`.
  static void expectJsonError(const testing::HttpResponse& response, int status, const std::string& detail_part,
                              const std::string& what) {
    EXPECT_EQ(response.status, status) << what << "\n" << response.headers << "\n" << response.body;
    EXPECT_NE(response.headers.find("Content-Type: application/json"), std::string::npos) << what << "\n" << response.headers;
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body["detail"].is_string()) << what << ": " << response.body;
    EXPECT_NE(body["detail"].get<std::string>().find(detail_part), std::string::npos) << what << ": " << response.body;
  }

  // Sends `request` on a fresh connection: a JSON error, then the server closes.
  static void expectRefusedAndClosed(std::uint16_t port, const std::string& request, int status,
                                     const std::string& detail_part, const std::string& what) {
    RawConnection connection(port);
    ASSERT_TRUE(connection.connected());
    connection.send(request);
    expectJsonError(connection.next(3000ms), status, detail_part, what);
    EXPECT_TRUE(connection.closedWithin(3000ms)) << what << ": connection left open";
  }

  // Sends `partial` to each service, then nothing: each must answer a JSON 408 at its
  // timeout (not Pistache's own 408 without a body) and close.
  // Each counted under `reason`.
  static void expectSilentClientsGetAJson408(const std::string& partial, const std::string& detail_part,
                                             const std::string& reason) {
    std::vector<double> counted;
    for (const Service& s : services()) counted.push_back(metric(s.port, refusedSeries(408, reason)));
    std::vector<std::unique_ptr<RawConnection>> connections;
    for (const Service& s : services()) {
      connections.push_back(std::make_unique<RawConnection>(s.port));
      ASSERT_TRUE(connections.back()->send(partial)) << s.name;
    }
    auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < connections.size(); ++i) {
      const char* name = services()[i].name;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(started + kHeaderTimeout + 3s - std::chrono::steady_clock::now());
      expectJsonError(connections[i]->next(std::max(left, 1ms)), 408, detail_part, name);
      EXPECT_GT(std::chrono::steady_clock::now() - started, kHeaderTimeout - 1s) << name << ": cut off before its timeout";
      EXPECT_TRUE(connections[i]->closedWithin(2000ms)) << name;
      EXPECT_EQ(metric(services()[i].port, refusedSeries(408, reason)), counted[i] + 1) << name << ": " << reason;
    }
  }

  inline static testing::TempDir* dir_ = nullptr;
  inline static testing::ConsumerSetup* setup_ = nullptr;
  inline static testing::ConsumerProcess* consumer_ = nullptr;
  inline static testing::ProducerProcess* producer_ = nullptr;
  inline static testing::ServiceProcess* batch_ = nullptr;
};

TEST_F(HttpProtocolTest, AMethodTheRouteDoesNotTakeIsAJson405) {
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    connection.send("POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    expectJsonError(connection.next(), 405, "POST", s.name);
    connection.send("DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expectJsonError(connection.next(), 405, "DELETE", s.name);
  }
}

TEST_F(HttpProtocolTest, AnUnknownMethodIsAJson405AndAClose) {
  for (const Service& s : services()) {
    expectRefusedAndClosed(s.port, "QUERY /ping HTTP/1.1\r\nHost: x\r\n\r\n", 405, "unknown HTTP method 'QUERY'", s.name);
  }
}

TEST_F(HttpProtocolTest, HeadersOverTheLimitAreAJson431) {
  std::string request = "GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    std::thread sender([&] { connection.send(request); });
    expectJsonError(connection.next(5000ms), 431, "headers exceed", s.name);
    EXPECT_TRUE(connection.closedWithin(5000ms)) << s.name;
    sender.join();
  }
}

TEST_F(HttpProtocolTest, ABodyOverTheLimitIsRefusedFromItsContentLengthBeforeItIsSent) {
  // Only the head goes out: the 413 must come without the server waiting for 100 MB.
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    connection.send("PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000000\r\n\r\n{");
    auto started = std::chrono::steady_clock::now();
    expectJsonError(connection.next(2000ms), 413, "exceeds the limit", s.name);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << s.name;
    EXPECT_TRUE(connection.closedWithin(3000ms)) << s.name;
  }
}

TEST_F(HttpProtocolTest, TheProducersBodyLimitIsItsConfiguredMaxBodyBytes) {
  std::string head = "PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ";
  expectRefusedAndClosed(producer_->port(), head + std::to_string(kProducerMaxBody + 1) + "\r\n\r\n", 413,
                         "limit of " + std::to_string(kProducerMaxBody), "one byte over");
}

TEST_F(HttpProtocolTest, NegativeOrMalformedContentLengthsAreAJson400) {
  for (const Service& s : services()) {
    for (const char* length : {"-1", "abc", "12x", ""}) {
      expectRefusedAndClosed(s.port, std::string("PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Length: ") + length + "\r\n\r\n",
                             400, "Content-Length", std::string(s.name) + " Content-Length '" + length + "'");
    }
  }
}

TEST_F(HttpProtocolTest, PipelinedRequestsAreAllAnsweredInOrder) {
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    std::string requests;
    for (int i = 0; i < 20; ++i) {
      requests += i % 2 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
    }
    connection.send(requests);
    for (int i = 0; i < 20; ++i) {
      auto response = connection.next();
      ASSERT_EQ(response.status, 200) << s.name << " answer " << i;
      EXPECT_EQ(response.body, i % 2 ? R"({"status":"alive"})" : "\"Hello, I am alive\"") << s.name << " answer " << i;
    }
  }
}

TEST_F(HttpProtocolTest, AnUnknownPathIsAnsweredOnceAndTheConnectionGoesOn) {
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    connection.send("GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    expectJsonError(connection.next(), 404, "no route", s.name);
    auto ping = connection.next();
    EXPECT_EQ(ping.status, 200) << s.name;
    EXPECT_EQ(ping.body, "\"Hello, I am alive\"") << s.name;
    EXPECT_FALSE(connection.closedWithin(300ms)) << s.name;
    EXPECT_EQ(connection.unread(), "") << s.name << ": a second answer";
  }
}

TEST_F(HttpProtocolTest, ExpectContinueIsAnsweredBeforeTheBody) {
  const std::string body = R"({"camera_id": 1, "gps_coordinates": [48.1, 16.2], "data": "ffd8"})";
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    connection.send("PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    auto interim = connection.next(500ms);
    EXPECT_EQ(interim.status, 100) << s.name;
    connection.send(body);
    auto answer = connection.next();
    // The producer stores it; the consumer without a producer URL says where writes go.
    EXPECT_EQ(answer.status, std::string(s.name) == "producer" ? 200 : 405) << s.name << ": " << answer.body;
  }
}

TEST_F(HttpProtocolTest, AnEmptyRequestLineIsAJson400AndAClose) {
  for (const Service& s : services()) expectRefusedAndClosed(s.port, "\r\n\r\n", 400, "empty request line", s.name);
}

TEST_F(HttpProtocolTest, ARequestLineWithoutVersionIsAJson400AndAClose) {
  for (const Service& s : services()) {
    expectRefusedAndClosed(s.port, "GET /ping\r\nHost: x\r\n\r\n", 400, "malformed request line", s.name);
  }
}

TEST_F(HttpProtocolTest, BareLfLineEndsAreAJson400AndAClose) {
  for (const Service& s : services()) {
    expectRefusedAndClosed(s.port, "GET /ping HTTP/1.1\nHost: x\n\n", 400, "CRLF", s.name);
  }
}

TEST_F(HttpProtocolTest, AMalformedHeaderLineIsAJson400AndAClose) {
  for (const Service& s : services()) {
    expectRefusedAndClosed(s.port, "GET /ping HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "malformed header", s.name);
  }
}

TEST_F(HttpProtocolTest, AnUnsupportedHttpVersionIsAJson505) {
  for (const Service& s : services()) {
    expectRefusedAndClosed(s.port, "GET /ping HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0", s.name);
  }
}

TEST_F(HttpProtocolTest, TwoThousandSilentConnectionsAreClosedByTheTimeouts) {
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (const Service& s : services()) {
    for (int i = 0; i < 2000; ++i) connections.push_back(std::make_unique<RawConnection>(s.port));
  }
  auto deadline = std::chrono::steady_clock::now() + kHeaderTimeout + 4s;
  int open = 0;
  for (auto& c : connections) {
    ASSERT_TRUE(c->connected());
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!c->closedWithin(std::max(left, 1ms))) ++open;
  }
  EXPECT_EQ(open, 0) << "of 4000 silent connections";
}

TEST_F(HttpProtocolTest, AKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    connection.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(connection.next().status, 200) << s.name;
    auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(connection.closedWithin(kIdleTimeout + 3s)) << s.name;
    EXPECT_GT(std::chrono::steady_clock::now() - started, kIdleTimeout - 1s) << s.name << ": closed before its idle timeout";
  }
}

TEST_F(HttpProtocolTest, AConnectionInUseOutlivesTheIdleTimeout) {
  for (const Service& s : services()) {
    RawConnection connection(s.port);
    auto until = std::chrono::steady_clock::now() + kIdleTimeout + 3s;
    while (std::chrono::steady_clock::now() < until) {
      connection.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
      ASSERT_EQ(connection.next().status, 200) << s.name << ": closed while in use";
      std::this_thread::sleep_for(1s);
    }
  }
}

TEST_F(HttpProtocolTest, ATricklingHeadIsCutOffWithAJson408) {
  // Slowloris: a header byte every 300 ms, never the end of the head.
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (const Service& s : services()) {
    connections.push_back(std::make_unique<RawConnection>(s.port));
    connections.back()->send("GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  auto until = std::chrono::steady_clock::now() + kHeaderTimeout + 4s;
  std::vector<bool> refused(connections.size(), false);
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(300ms);
    for (std::size_t i = 0; i < connections.size(); ++i) {
      if (!refused[i] && !connections[i]->send("a")) refused[i] = true;
    }
  }
  for (std::size_t i = 0; i < connections.size(); ++i) {
    expectJsonError(connections[i]->next(1000ms), 408, "took too long", services()[i].name);
    EXPECT_TRUE(connections[i]->closedWithin(1000ms)) << services()[i].name;
  }
}

TEST_F(HttpProtocolTest, AClientSilentInItsRequestLineGetsAJson408) {
  expectSilentClientsGetAJson408("GET /pi", "request headers took too long", "header_timeout");
}

TEST_F(HttpProtocolTest, AClientSilentInItsHeadersGetsAJson408) {
  expectSilentClientsGetAJson408("GET /ping HTTP/1.1\r\nHost: x\r\nX-Half: ", "request headers took too long",
                                 "header_timeout");
}

TEST_F(HttpProtocolTest, AClientSilentInItsBodyGetsAJson408) {
  expectSilentClientsGetAJson408("PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 100\r\n\r\n{\"camera_id\": 1,",
                                 "request body took too long", "body_timeout");
}

TEST_F(HttpProtocolTest, APipelinedRequestLeftHalfSentGetsAJson408AfterTheAnswerBeforeIt) {
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (const Service& s : services()) {
    connections.push_back(std::make_unique<RawConnection>(s.port));
    connections.back()->send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n");
  }
  auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < connections.size(); ++i) {
    const char* name = services()[i].name;
    EXPECT_EQ(connections[i]->next().status, 200) << name;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(started + kHeaderTimeout + 3s - std::chrono::steady_clock::now());
    expectJsonError(connections[i]->next(std::max(left, 1ms)), 408, "request headers took too long", name);
    EXPECT_TRUE(connections[i]->closedWithin(2000ms)) << name;
  }
}

TEST_F(HttpProtocolTest, ARequestStartedLateOnAKeptAliveConnectionGetsItsWholeTimeout) {
  // The header timeout runs from the request's first byte, not from the previous answer.
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (const Service& s : services()) {
    connections.push_back(std::make_unique<RawConnection>(s.port));
    connections.back()->send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(connections.back()->next().status, 200) << s.name;
  }
  std::this_thread::sleep_for(kIdleTimeout - 3s);
  auto started = std::chrono::steady_clock::now();
  for (auto& c : connections) ASSERT_TRUE(c->send("GET /ping HTTP/1.1\r\nHost: x\r\n"));
  for (std::size_t i = 0; i < connections.size(); ++i) {
    const char* name = services()[i].name;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(started + kHeaderTimeout + 3s - std::chrono::steady_clock::now());
    expectJsonError(connections[i]->next(std::max(left, 1ms)), 408, "took too long", name);
    EXPECT_GT(std::chrono::steady_clock::now() - started, kHeaderTimeout - 1s) << name << ": cut off before its timeout";
  }
}

TEST_F(HttpProtocolTest, ConnectionsWithoutARequestAreClosedWithoutAnAnswer) {
  // Nothing was asked: nothing is answered (no bodiless 408), the connection just closes.
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (const Service& s : services()) {
    connections.push_back(std::make_unique<RawConnection>(s.port));  // never sends
    connections.push_back(std::make_unique<RawConnection>(s.port));  // kept alive after an answer
    connections.back()->send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(connections.back()->next().status, 200) << s.name;
  }
  for (std::size_t i = 0; i < connections.size(); ++i) {
    std::string what = std::string(services()[i / 2].name) + (i % 2 ? " after an answer" : " without a request");
    EXPECT_TRUE(connections[i]->closedWithin(kIdleTimeout + 3s)) << what;
    EXPECT_EQ(connections[i]->unread(), "") << what;
  }
}

TEST_F(HttpProtocolTest, EveryRefusalIsCountedByItsCodeAndReason) {
  struct Case {
    std::string request;
    int code;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", 413, "body_too_large"},
      {"PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "bad_content_length"},
      {"GET /ping\r\nHost: x\r\n\r\n", 400, "bad_request_line"},
      {"GET /ping HTTP/1.1\nHost: x\n\n", 400, "bare_lf"},
      {"GET /ping HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "bad_header"},
      {"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(32 << 10, 'a') + "\r\n\r\n", 431, "headers_too_large"},
      {"QUERY /ping HTTP/1.1\r\nHost: x\r\n\r\n", 405, "unknown_method"},
      {"GET /ping HTTP/2.0\r\nHost: x\r\n\r\n", 505, "version_not_supported"},
      {"PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "transfer_encoding"},
      {"PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Length: 2\r\n\r\n", 417, "unknown_expectation"},
  };
  for (const Service& s : services()) {
    for (const Case& c : cases) {
      std::string series = refusedSeries(c.code, c.reason);
      double before = metric(s.port, series);
      RawConnection connection(s.port);
      connection.send(c.request);
      EXPECT_EQ(connection.next(3000ms).status, c.code) << s.name << " " << c.reason;
      EXPECT_EQ(metric(s.port, series), before + 1) << s.name << " " << series;
    }
  }
}

TEST_F(HttpProtocolTest, AnswersAreCountedByRouteTemplateMethodAndCodeNeverByRawPath) {
  const std::string image_404 = R"(leafsync_http_requests_total{code="404",method="GET",route="/image-plant/:plant/:id"})";
  const std::string image_count = R"(leafsync_http_request_duration_seconds_count{route="/image-plant/:plant/:id"})";
  const std::string unmatched_404 = R"(leafsync_http_requests_total{code="404",method="GET",route="unmatched"})";
  const std::string ping_200 = R"(leafsync_http_requests_total{code="200",method="GET",route="/ping"})";
  for (const Service& s : services()) {
    double images = metric(s.port, image_404);
    double timed = metric(s.port, image_count);
    double unmatched = metric(s.port, unmatched_404);
    double pings = metric(s.port, ping_200);
    for (const char* path : {"/image-plant/potato/987654", "/image-plant/tomato/987653", "/image-plant/potato/987652"}) {
      EXPECT_EQ(testing::httpRequest(s.port, "GET", path).status, 404) << s.name << " " << path;
    }
    EXPECT_EQ(testing::httpRequest(s.port, "GET", "/no/such/path-424242").status, 404) << s.name;
    EXPECT_EQ(testing::httpRequest(s.port, "GET", "/ping").status, 200) << s.name;
    EXPECT_EQ(metric(s.port, image_404), images + 3) << s.name;
    EXPECT_EQ(metric(s.port, image_count), timed + 3) << s.name;
    EXPECT_EQ(metric(s.port, unmatched_404), unmatched + 1) << s.name;
    EXPECT_EQ(metric(s.port, ping_200), pings + 1) << s.name;
    std::string text = testing::httpRequest(s.port, "GET", "/metrics").body;
    EXPECT_EQ(text.find("98765"), std::string::npos) << s.name << ": a raw path is a label";
    EXPECT_EQ(text.find("424242"), std::string::npos) << s.name << ": a raw path is a label";
  }
}

}  // namespace
}  // namespace leafsync
