#include "parse_error.hpp"

namespace weft::http {

std::string_view describe(ParseErrc code) noexcept {
  switch (code) {
    case ParseErrc::kNone:
      return "no error";
    case ParseErrc::kBadMethod:
      return "invalid method";
    case ParseErrc::kBadTarget:
      return "invalid request target";
    case ParseErrc::kBadVersion:
      return "invalid HTTP version";
    case ParseErrc::kUnsupportedVersion:
      return "unsupported HTTP major version";
    case ParseErrc::kBadStatusLine:
      return "invalid status line";
    case ParseErrc::kStartLineTooLong:
      return "request or status line too long";
    case ParseErrc::kBareLf:
      return "line ends in a bare LF, without CR";
    case ParseErrc::kBareCr:
      return "CR not followed by LF";
    case ParseErrc::kObsFold:
      return "obsolete line folding (line starts with whitespace)";
    case ParseErrc::kBadHeaderName:
      return "invalid character in header name";
    case ParseErrc::kSpaceBeforeColon:
      return "whitespace between header name and colon";
    case ParseErrc::kBadHeaderValue:
      return "invalid character in header value";
    case ParseErrc::kHeadTooLarge:
      return "header section too large";
    case ParseErrc::kTooManyHeaders:
      return "too many header fields";
    case ParseErrc::kMissingHost:
      return "HTTP/1.1 request without Host";
    case ParseErrc::kDuplicateHost:
      return "more than one Host";
    case ParseErrc::kBadHost:
      return "invalid Host";
    case ParseErrc::kBadContentLength:
      return "invalid Content-Length";
    case ParseErrc::kConflictingContentLength:
      return "conflicting Content-Length values";
    case ParseErrc::kContentLengthWithTransferEncoding:
      return "both Content-Length and Transfer-Encoding";
    case ParseErrc::kChunkedNotLast:
      return "Transfer-Encoding does not end in chunked";
    case ParseErrc::kBadTransferEncoding:
      return "invalid Transfer-Encoding";
    case ParseErrc::kUnsupportedTransferCoding:
      return "unsupported transfer coding";
    case ParseErrc::kTransferEncodingInHttp10:
      return "Transfer-Encoding in an HTTP/1.0 message";
    case ParseErrc::kBadChunkSize:
      return "invalid chunk size";
    case ParseErrc::kChunkSizeTooLong:
      return "chunk size has too many digits";
    case ParseErrc::kBadChunkExtension:
      return "invalid chunk extension";
    case ParseErrc::kChunkExtensionsTooLong:
      return "chunk extensions too long";
    case ParseErrc::kBadChunkEnd:
      return "chunk data not followed by CRLF";
    case ParseErrc::kBadTrailer:
      return "invalid trailer field";
    case ParseErrc::kTrailersTooLarge:
      return "trailer section too large";
    case ParseErrc::kBodyTooLarge:
      return "body too large";
  }
  return "unknown error";
}

int status_for(ParseErrc code) noexcept {
  switch (code) {
    case ParseErrc::kStartLineTooLong:
      return 414;
    case ParseErrc::kHeadTooLarge:
    case ParseErrc::kTooManyHeaders:
    case ParseErrc::kTrailersTooLarge:
      return 431;
    case ParseErrc::kBodyTooLarge:
      return 413;
    case ParseErrc::kUnsupportedTransferCoding:
      return 501;
    case ParseErrc::kUnsupportedVersion:
      return 505;
    default:
      return 400;
  }
}

std::string ParseError::message() const {
  std::string out(describe(code));
  out += " at byte ";
  out += std::to_string(offset);
  return out;
}

}  // namespace weft::http
