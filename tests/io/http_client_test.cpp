// weft::http::Url: parsing http:// and https:// URLs and resolving redirect locations.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <weft/io/http/client_url.hpp>

using weft::http::Url;

namespace {

// ---- URLs --------------------------------------------------------------------------------

TEST(HttpUrl, SplitsAnHttpUrlIntoHostPortPathAndQuery) {
  Url u = Url::parse("HTTP://Example.COM:8080/a/b%2Fc?x=1&y=%20#frag");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.path, "/a/b%2Fc");
  EXPECT_EQ(u.query, "x=1&y=%20");
  EXPECT_EQ(u.target(), "/a/b%2Fc?x=1&y=%20");
  EXPECT_EQ(u.authority(), "example.com:8080");
}

TEST(HttpUrl, DefaultsThePortAndPathBySchemeAndBracketsIpv6) {
  Url a = Url::parse("https://example.com");
  EXPECT_EQ(a.port, 443);
  EXPECT_EQ(a.path, "/");
  EXPECT_TRUE(a.is_tls());
  Url b = Url::parse("http://[::1]:9000/x");
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.port, 9000);
  EXPECT_EQ(b.authority(), "[::1]:9000");
  EXPECT_EQ(b.to_string(), "http://[::1]:9000/x");
}

TEST(HttpUrl, RefusesOtherSchemesAndMalformedUrlsNamingTheFault) {
  auto message = [](const char* text) {
    try {
      (void)Url::parse(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("ftp://example.com/").find("unsupported scheme \"ftp\""), std::string::npos);
  EXPECT_NE(message("example.com/").find("not an absolute"), std::string::npos);
  EXPECT_NE(message("http:///path").find("no host"), std::string::npos);
  EXPECT_NE(message("http://h:99999/").find("invalid port"), std::string::npos);
  EXPECT_NE(message("http://u:p@h/").find("credentials"), std::string::npos);
  EXPECT_NE(message("http://[::1/").find("IPv6"), std::string::npos);
  EXPECT_NE(message("http://h/a b").find("space"), std::string::npos);
}

TEST(HttpUrl, ResolvesRedirectLocationsAgainstTheBase) {
  Url base = Url::parse("http://h:81/a/b/c?q");
  EXPECT_EQ(base.resolve("https://o/x").to_string(), "https://o/x");
  EXPECT_EQ(base.resolve("//o2/y").to_string(), "http://o2/y");
  EXPECT_EQ(base.resolve("/z?k=v").to_string(), "http://h:81/z?k=v");
  EXPECT_EQ(base.resolve("d").to_string(), "http://h:81/a/b/d");
  EXPECT_EQ(base.resolve("../e").to_string(), "http://h:81/a/e");
  EXPECT_EQ(base.resolve("?n").to_string(), "http://h:81/a/b/c?n");
}

}  // namespace
