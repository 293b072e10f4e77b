// OperationLocationUpstream: the part every Operation-Location service
// shares (Azure's long-running-operation pattern): a submit is accepted with
// 200/201/202 and an Operation-Location on the configured origin whose last
// path segment is the operation id; a GET on that URL answers a status body
// until it is final. Adapters derive from it and supply the submit and
// lookup URLs, the input shape and, when it is not Azure's, the StatusShape.
#pragma once

#include "upstream/upstream.h"

namespace lrogate::upstream {

class OperationLocationUpstream : public Upstream {
 public:
  SubmitAnswer read_submit(const http::ClientResult& r, Millis now) const override;
  http::ClientRequest build_poll(std::string_view operation_location) const override;
  PollAnswer read_poll(const http::ClientResult& r, Millis now) const override;

 protected:
  OperationLocationUpstream(Settings s, StatusShape shape)
      : Upstream(std::move(s)), shape_(std::move(shape)) {}
  // A POST of body to url with the given (or JSON) content type.
  http::ClientRequest post(std::string url, std::shared_ptr<const std::string> body,
                           std::string_view content_type) const;

  StatusShape shape_;
};

// Whether a Content-Type names JSON (application/json, application/*+json).
bool is_json_type(std::string_view content_type);

}  // namespace lrogate::upstream
