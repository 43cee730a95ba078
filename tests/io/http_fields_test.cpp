// http::Fields (the header list of a message to send) and the status reason phrases.
#include "weft/io/http/fields.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "weft/io/http/status.hpp"

namespace weft::http {
namespace {

TEST(HttpFields, GetIgnoresCaseAndReturnsTheFirstValue) {
  Fields f;
  f.add("Set-Cookie", "a=1");
  f.add("set-cookie", "b=2");
  EXPECT_EQ(f.get("SET-COOKIE"), "a=1");
  EXPECT_EQ(f.get_all("Set-Cookie"), (std::vector<std::string_view>{"a=1", "b=2"}));
  EXPECT_FALSE(f.get("Missing").has_value());
}

TEST(HttpFields, SetReplacesEveryFieldOfTheNameInTheFirstOnesPlace) {
  Fields f{{"A", "1"}, {"B", "2"}, {"a", "3"}};
  f.set("A", "x");
  std::string out;
  f.serialize(out);
  EXPECT_EQ(out, "A: x\r\nB: 2\r\n");
  f.set("C", "y");
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f[2].name, "C");
}

TEST(HttpFields, RemoveDropsEveryFieldOfTheNameAndKeepsTheOrder) {
  Fields f{{"A", "1"}, {"B", "2"}, {"a", "3"}, {"C", "4"}};
  EXPECT_EQ(f.remove("a"), 2u);
  std::string out;
  f.serialize(out);
  EXPECT_EQ(out, "B: 2\r\nC: 4\r\n");
  EXPECT_EQ(f.serialized_size(), out.size());
}

TEST(HttpFields, ValuesAreTrimmedOfSurroundingWhitespace) {
  Fields f;
  f.add("X", "  v w\t");
  EXPECT_EQ(f.get("x"), "v w");
}

TEST(HttpFields, AnInjectedLineBreakIsRefused) {
  Fields f;
  try {
    f.add("X", "a\r\nEvil: 1");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("invalid character"), std::string::npos);
  }
  EXPECT_THROW(f.add("Bad Name", "v"), std::invalid_argument);
  EXPECT_THROW(f.set("", "v"), std::invalid_argument);
  EXPECT_TRUE(f.empty());
}

TEST(HttpStatus, StandardCodesHaveTheirReasonPhrase) {
  EXPECT_EQ(reason_phrase(status::kOk), "OK");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(799), "");
  EXPECT_TRUE(status_has_no_body(204));
  EXPECT_TRUE(status_has_no_body(304));
  EXPECT_FALSE(status_has_no_body(200));
}

}  // namespace
}  // namespace weft::http
