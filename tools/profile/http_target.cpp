// HttpTarget's session: one http::Client limited to one connection, each request's body
// read to its end (so the connection goes back for the next request).
#include "weft/profile/http_target.hpp"

#include <stdexcept>
#include <utility>

namespace weft::profile {
namespace {

class HttpSession : public Session {
 public:
  HttpSession(const std::string& url, http::Method method, const std::string& body)
      : url_(url),
        method_(method),
        body_(body),
        client_(http::ClientOptions{.limit_per_host = 1, .limit = 1}) {}

  Task<void> request() override {
    http::RequestOptions options;
    if (!body_.empty()) options.body = http::RequestBody(body_);
    http::ClientResponse r = co_await client_.request(method_, url_, std::move(options));
    // The whole body, whatever its status: a response counts once it has all arrived.
    const std::string body = co_await r.text();
    if (!r.ok()) {
      throw std::runtime_error("http: " + std::string(http::method_name(method_)) + " " + url_ +
                               ": status " + std::to_string(r.status()));
    }
  }

 private:
  std::string url_;
  http::Method method_;
  std::string body_;
  http::Client client_;
};

}  // namespace

HttpTarget::HttpTarget(std::string url, http::Method method, std::string body)
    : url_(std::move(url)), method_(method), body_(std::move(body)) {
  (void)http::Url::parse(url_);  // throws std::invalid_argument naming the URL
}

Task<std::unique_ptr<Session>> HttpTarget::connect() {
  auto session = std::make_unique<HttpSession>(url_, method_, body_);
  co_await session->request();
  std::unique_ptr<Session> s = std::move(session);
  co_return s;
}

std::string HttpTarget::describe() const {
  return "http " + std::string(http::method_name(method_)) + " " + url_;
}

}  // namespace weft::profile
