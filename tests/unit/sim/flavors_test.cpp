#include "sim/flavors.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace lrogate::sim {
namespace {

http::Request json_request(std::string body) {
  http::Request r;
  r.method = "POST";
  r.headers.push_back({"content-type", "application/json"});
  r.body = std::move(body);
  return r;
}

TEST(Flavors, EachNamesItsStatusUrlAndPhasesItsOwnWay) {
  SimOp op;
  op.id = "r1";
  op.analyzer = "prebuilt-read";
  op.api_version = "2024-11-30";
  op.flavor = Flavor::kDi;
  EXPECT_EQ(status_path(op),
            "/documentintelligence/documentModels/prebuilt-read/analyzeResults/r1"
            "?api-version=2024-11-30");
  boost::json::object o;
  set_status(o, Flavor::kDi, "NotStarted");
  EXPECT_EQ(boost::json::serialize(o), R"({"status":"notStarted"})");
  set_status(o = {}, Flavor::kCu, "Running");
  EXPECT_EQ(boost::json::serialize(o), R"({"status":"Running"})");
  set_status(o = {}, Flavor::kGeneric, "Succeeded");
  EXPECT_EQ(boost::json::serialize(o), R"({"job":{"state":"done"}})");
  op.flavor = Flavor::kGeneric;
  EXPECT_EQ(status_path(op), "/generic/jobs/prebuilt-read/r1");
  EXPECT_EQ(key_header(Flavor::kGeneric), "x-api-key");
  EXPECT_TRUE(version_served(Flavor::kCu, "2025-11-01"));
  EXPECT_FALSE(version_served(Flavor::kDi, "2025-11-01"));
  EXPECT_TRUE(version_served(Flavor::kGeneric, ""));
}

TEST(Flavors, ReadInputTellsWhyARequestNamesNoDocument) {
  auto cu = read_input(json_request(R"({"url":"https://x/doc.pdf"})"), Flavor::kCu,
                       "2025-05-01-preview", false);
  ASSERT_TRUE(cu.ok());
  EXPECT_EQ(cu.value(), "https://x/doc.pdf");
  // The GA version takes inputs[], and binary input only on :analyzeBinary.
  EXPECT_FALSE(read_input(json_request(R"({"url":"u"})"), Flavor::kCu, kCuGa, false).ok());
  http::Request binary;
  binary.headers.push_back({"content-type", "application/pdf"});
  binary.body = "%PDF";
  auto refused = read_input(binary, Flavor::kCu, kCuGa, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("binary input"), std::string::npos);
  EXPECT_TRUE(read_input(binary, Flavor::kCu, kCuGa, true).ok());
  EXPECT_FALSE(read_input(json_request(R"({"source":1})"), Flavor::kGeneric, "", false).ok());
  EXPECT_FALSE(read_input(json_request("not json"), Flavor::kDi, kDiVersion, false).ok());
}

TEST(Flavors, TheFinalBodyIsAFunctionOfTheOperation) {
  SimOp op;
  op.id = "r1";
  op.analyzer = "a";
  op.api_version = "2025-11-01";
  op.input = "https://x/doc.pdf";
  op.created = 1'700'000'000'000;
  op.d.result_bytes = 4096;
  std::string body = final_body(op);
  EXPECT_EQ(body, final_body(op));
  EXPECT_GT(body.size(), 4096u);
  EXPECT_NE(body.find(checksum(op)), std::string::npos);
  op.d.outcome = "Failed";
  EXPECT_NE(final_body(op).find(R"("error":{"code":"InvalidContent")"), std::string::npos);
}

}  // namespace
}  // namespace lrogate::sim
