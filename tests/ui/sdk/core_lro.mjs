// @azure/core-lro's generic engine over an @azure-rest/core-client client —
// what every generated Azure REST client (Content Understanding's among them)
// does for a long-running operation — against lrogate's Content Understanding
// routes or its native POST /operations. Driven by tests/integration/test_azure_sdks.py.
//
// argv[2]: JSON {endpoint, key, keyHeader?, method? ("post" | "put"), path, query?, body,
// contentType?, intervalMs?}
// stdout: JSON lines as sdk/document_intelligence.mjs writes them; "done" has `body`.
import { countPolls, say } from "./report.mjs";
import { getClient } from "@azure-rest/core-client";
import { createHttpPoller } from "@azure/core-lro";

const spec = JSON.parse(process.argv[2]);

const client = getClient(spec.endpoint, { key: spec.key }, {
  allowInsecureConnection: !spec.endpoint.startsWith("https:"),
  credentials: { apiKeyHeaderName: spec.keyHeader ?? "Ocp-Apim-Subscription-Key" },
});
const counter = countPolls(client);

// As the generated clients' pollingHelper.ts converts a REST response.
const lroResponse = (r) => ({
  flatResponse: r,
  rawResponse: { ...r, statusCode: Number.parseInt(r.status), body: r.body },
});

try {
  const body = spec.base64Body ? Buffer.from(spec.base64Body, "base64") : spec.body;
  const method = spec.method ?? "post";
  const initial = await client.pathUnchecked(spec.path)[method]({
    body,
    contentType: spec.contentType ?? "application/json",
    queryParameters: spec.query ?? {},
  });
  if (![201, 202].includes(Number(initial.status))) {
    say({ event: "error", stage: "submit", statusCode: Number(initial.status),
          code: initial.body?.error?.code, message: initial.body?.error?.message, polls: counter.polls });
    process.exit(0);
  }
  say({ event: "accepted", statusCode: Number(initial.status), operationLocation: initial.headers["operation-location"],
        location: initial.headers["location"] ?? null });
  const poller = createHttpPoller(
    {
      sendInitialRequest: async () => lroResponse(initial),
      sendPollRequest: async (path) => lroResponse(await client.pathUnchecked(path).get()),
    },
    { intervalInMs: spec.intervalMs ?? 1000 },
  );
  const final = await poller.pollUntilDone();
  say({ event: "done", statusCode: Number(final.status), body: final.body, polls: counter.polls });
} catch (e) {
  say({ event: "error", stage: "poll", message: String(e?.message ?? e), code: e?.code,
        statusCode: e?.statusCode, polls: counter.polls });
}
