// Microsoft's Document Intelligence REST client (@azure-rest/ai-document-intelligence),
// unchanged, pointed at lrogate: analyze, then the SDK's own poller until done.
// Driven by tests/integration/test_azure_sdks.py.
//
// argv[2]: JSON {endpoint, key | token, model, urlSource | base64Source, query?, intervalMs?}
// (`token`: a TokenCredential that hands out that bearer token, as
// DefaultAzureCredential would; the SDK sends it over https only.)
// stdout: one JSON line per event: {"event":"accepted","operationLocation",...},
// {"event":"poll","n"} (after each of the poller's GETs), then
// {"event":"done","status","analyzeResult","polls"} or
// {"event":"error","stage","message","code","statusCode","polls"}.
import { countPolls, say } from "./report.mjs";
import DocumentIntelligence, {
  getLongRunningPoller,
  isUnexpected,
} from "@azure-rest/ai-document-intelligence";

const spec = JSON.parse(process.argv[2]);

// Plain http on loopback needs the SDK's own opt-in; over https
// the test's CA comes in NODE_EXTRA_CA_CERTS.
const credential = spec.token
  ? { getToken: async () => ({ token: spec.token, expiresOnTimestamp: Date.now() + 3600_000 }) }
  : { key: spec.key };
const client = DocumentIntelligence(
  spec.endpoint,
  credential,
  { allowInsecureConnection: !spec.endpoint.startsWith("https:") },
);
const counter = countPolls(client);

try {
  const body = spec.urlSource ? { urlSource: spec.urlSource } : { base64Source: spec.base64Source };
  const initial = await client
    .path("/documentModels/{modelId}:analyze", spec.model)
    .post({ contentType: "application/json", body, queryParameters: spec.query ?? {} });
  if (isUnexpected(initial)) {
    say({
      event: "error",
      stage: "analyze",
      statusCode: Number(initial.status),
      code: initial.body?.error?.code,
      message: initial.body?.error?.message,
      headers: initial.headers,
      polls: counter.polls,
    });
    process.exit(0);
  }
  say({
    event: "accepted",
    statusCode: Number(initial.status),
    operationLocation: initial.headers["operation-location"],
    location: initial.headers["location"] ?? null,
    retryAfter: initial.headers["retry-after"] ?? null,
  });
  const poller = getLongRunningPoller(client, initial, { intervalInMs: spec.intervalMs ?? 1000 });
  const final = await poller.pollUntilDone();
  say({
    event: "done",
    statusCode: Number(final.status),
    status: final.body.status,
    analyzeResult: final.body.analyzeResult,
    polls: counter.polls,
  });
} catch (e) {
  say({ event: "error", stage: "poll", message: String(e?.message ?? e), code: e?.code,
        statusCode: e?.statusCode, polls: counter.polls });
}
