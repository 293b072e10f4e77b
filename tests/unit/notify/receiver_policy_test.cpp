#include "notify/receiver_policy.h"

#include <gtest/gtest.h>

namespace lrogate::notify {
namespace {

ReceiverPolicy make(std::vector<std::string> hosts, std::vector<std::string> nets = {}) {
  auto p = ReceiverPolicy::make(hosts, nets);
  EXPECT_TRUE(p) << p.error().message;
  return p ? std::move(p).value() : ReceiverPolicy();
}

TEST(ReceiverPolicy, WithoutHostsNothingIsACallback) {
  ReceiverPolicy none;
  EXPECT_FALSE(none.enabled());
  EXPECT_TRUE(none.refuse_url("https://hooks.example.com/x"));
}

TEST(ReceiverPolicy, OnlyListedHostsAndTheirSubdomains) {
  auto p = make({"hooks.example.com", "*.corp.example"});
  EXPECT_FALSE(p.refuse_url("https://hooks.example.com/lrogate?x=1"));
  EXPECT_FALSE(p.refuse_url("http://HOOKS.example.com:8443/"));
  EXPECT_FALSE(p.refuse_url("https://a.b.corp.example/in"));
  EXPECT_TRUE(p.refuse_url("https://corp.example/in"));  // *. names what is under it
  EXPECT_TRUE(p.refuse_url("https://evilcorp.example/in"));
  EXPECT_TRUE(p.refuse_url("https://hooks.example.com.evil.net/"));
  EXPECT_TRUE(p.refuse_url("ftp://hooks.example.com/"));
  EXPECT_TRUE(p.refuse_url("https://user:pw@hooks.example.com/"));
  EXPECT_TRUE(p.refuse_url("hooks.example.com/x"));
  EXPECT_TRUE(p.refuse_url("https://hooks.example.com/" + std::string(2100, 'a')));
}

TEST(ReceiverPolicy, SpecialAddressesAreRefusedEvenWhenListed) {
  auto p = make({"127.0.0.1", "169.254.169.254", "10.1.2.3", "[::1]", "[fe80::1]", "localhost"});
  EXPECT_TRUE(p.refuse_url("http://127.0.0.1:9000/hook"));
  EXPECT_TRUE(p.refuse_url("http://169.254.169.254/latest/meta-data/"));
  EXPECT_TRUE(p.refuse_url("http://10.1.2.3/"));
  EXPECT_TRUE(p.refuse_url("http://[::1]/"));
  EXPECT_TRUE(p.refuse_url("http://[fe80::1]/"));
  EXPECT_FALSE(p.refuse_url("http://localhost/"));  // a name: judged by its address, later
  for (const char* ip : {"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                         "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
                         "fc00::1", "fd12::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
                         "::ffff:10.0.0.1", "64:ff9b::a00:1", "::7f00:1", "::127.0.0.1",
                         "fec0::1", "2001::1", "::ffff:0:7f00:1"}) {
    EXPECT_FALSE(p.address_allowed(ip)) << ip;
  }
  for (const char* ip : {"8.8.8.8", "20.42.1.1", "2606:4700::1111", "172.32.0.1"}) {
    EXPECT_TRUE(p.address_allowed(ip)) << ip;
  }
  EXPECT_FALSE(p.address_allowed("not an address"));
}

TEST(ReceiverPolicy, AllowedNetworksOpenOnlyThemselves) {
  auto p = make({"127.0.0.1"}, {"127.0.0.1/32", "fd00::/8"});
  EXPECT_FALSE(p.refuse_url("http://127.0.0.1:9000/hook"));
  EXPECT_TRUE(p.address_allowed("127.0.0.1"));
  EXPECT_TRUE(p.address_allowed("::ffff:127.0.0.1"));
  EXPECT_FALSE(p.address_allowed("127.0.0.2"));
  EXPECT_TRUE(p.address_allowed("fd00::5"));
  EXPECT_FALSE(p.address_allowed("fc00::5"));
  EXPECT_FALSE(p.address_allowed("169.254.169.254"));
}

TEST(ReceiverPolicy, CanonicalUrlsStartWithTheirOrigin) {
  EXPECT_EQ(ReceiverPolicy::canonical("HTTPS://Hooks.Example.com/in?t=A%20b"),
            "https://hooks.example.com:443/in?t=A%20b");
  EXPECT_EQ(ReceiverPolicy::canonical("http://h.example"), "http://h.example:80/");
  EXPECT_EQ(ReceiverPolicy::canonical("http://h.example:8080?x=1"), "http://h.example:8080/?x=1");
  EXPECT_EQ(ReceiverPolicy::canonical("http://[::1]:9/a"), "http://[::1]:9/a");
  EXPECT_EQ(ReceiverPolicy::origin("https://hooks.example.com:443/in?t=1"),
            "https://hooks.example.com:443/");
  EXPECT_EQ(ReceiverPolicy::origin("http://h.example:80/"), "http://h.example:80/");
}

TEST(ReceiverPolicy, BadEntriesAreNamed) {
  auto h = ReceiverPolicy::make({"hooks example"}, {});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().detail, "hooks example");
  EXPECT_FALSE(ReceiverPolicy::make({"a.example"}, {"10.0.0.0/33"}));
  EXPECT_FALSE(ReceiverPolicy::make({"a.example"}, {"10.0.0/8"}));
  EXPECT_FALSE(ReceiverPolicy::make({"a.example"}, {"fd00::/129"}));
}

}  // namespace
}  // namespace lrogate::notify
