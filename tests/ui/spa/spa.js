// What the original single-page app did, in plain JS: sign in (here a token
// from the simulator's OIDC issuer instead of MSAL), set up its analyzer,
// submit a document, poll the results route every second until it is 200 and
// show result.contents[0].fields.
//
// Query string: gateway (base URL), token (the issuer's token endpoint),
// analyzer (id), document (URL to analyze), group (X-Group-ID, also put in the
// token's groups), audience (the token's aud), user (oid and sub; "spa-user"),
// auto=1 to start on load instead of on #run.
//
// What it did is readable from the DOM: body[data-state] idle|running|done|error,
// #status the last step, #error the failure, #fields one <dt>/<dd> per field
// (the value as JSON), and window.spaSteps every answer as "STEP STATUS".
'use strict';

const POLL_INTERVAL_MS = 1000;  // the gateway answers 429 to polls of one operation closer than 1 s
const MAX_POLLS = 120;

const params = new URLSearchParams(location.search);
const config = {
  gateway: (params.get('gateway') || '').replace(/\/+$/, ''),
  tokenUrl: params.get('token') || '',
  analyzerId: params.get('analyzer') || 'receipts',
  documentUrl: params.get('document') || '',
  groupId: params.get('group') || '',
  audience: params.get('audience') || 'api://lrogate',
  user: params.get('user') || 'spa-user',
};

const steps = [];
window.spaSteps = steps;

function show(id, text) {
  document.getElementById(id).textContent = text;
}

function setState(state, text) {
  document.body.dataset.state = state;
  show('status', text);
}

// A failed step: an answer we did not expect, or a fetch the browser refused
// (a CORS failure is a TypeError with no answer to read).
class StepError extends Error {}

async function call(step, url, init, expected) {
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    steps.push(`${step} failed`);
    throw new StepError(`${step}: fetch failed (${e.name}: ${e.message})`);
  }
  steps.push(`${step} ${res.status}`);
  const text = await res.text();
  if (!expected.includes(res.status)) {
    throw new StepError(`${step}: HTTP ${res.status} ${text.slice(0, 300)}`);
  }
  return { res, body: text ? JSON.parse(text) : null };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function signIn() {
  const claims = { sub: config.user, oid: config.user, aud: config.audience };
  if (config.groupId) claims.groups = [config.groupId];
  const { body } = await call('token', config.tokenUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(claims),
  }, [200]);
  return body.access_token;
}

function gatewayHeaders(token) {
  const h = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  if (config.groupId) h['X-Group-ID'] = config.groupId;
  return h;
}

const ANALYZER = {
  description: 'Receipts',
  baseAnalyzerId: 'prebuilt-documentAnalyzer',
  mode: 'pro',
  fieldSchema: {
    fields: {
      MerchantName: { type: 'string', method: 'extract', description: 'Who sold it' },
      Total: { type: 'number', method: 'extract', description: 'What it cost' },
    },
  },
};

async function run() {
  document.getElementById('run').disabled = true;
  const analyzerUrl = `${config.gateway}/pro-mode/content-analyzers/${encodeURIComponent(config.analyzerId)}`;
  try {
    setState('running', 'signing in');
    const token = await signIn();
    const headers = gatewayHeaders(token);

    setState('running', 'setting up the analyzer');
    const put = await call('PUT', analyzerUrl, {
      method: 'PUT', headers, body: JSON.stringify(ANALYZER),
    }, [200, 201]);
    show('creation', put.res.headers.get('Operation-Location') || '');

    setState('running', 'submitting');
    const post = await call('POST', `${analyzerUrl}:analyze`, {
      method: 'POST', headers, body: JSON.stringify({ url: config.documentUrl }),
    }, [202]);
    const operationId = post.body.operationId;
    show('operation-id', operationId);

    for (let i = 0; i < MAX_POLLS; i++) {
      await sleep(POLL_INTERVAL_MS);
      setState('running', `processing (poll ${i + 1})`);
      const got = await call('GET', `${analyzerUrl}/results/${encodeURIComponent(operationId)}`, {
        headers,
      }, [200, 202, 429]);
      if (got.res.status === 200) {
        render(got.body.result.contents[0].fields);
        setState('done', 'done');
        return;
      }
      if (got.res.status === 429) {
        // Too fast for the gateway: wait as long as it asks on top.
        await sleep(1000 * (Number(got.res.headers.get('Retry-After')) || 1));
      }
    }
    throw new StepError(`still processing after ${MAX_POLLS} polls`);
  } catch (e) {
    show('error', e instanceof StepError ? e.message : `${e.name}: ${e.message}`);
    document.getElementById('error').hidden = false;
    setState('error', 'failed');
  }
}

function render(fields) {
  const list = document.getElementById('fields');
  list.replaceChildren();
  for (const [name, value] of Object.entries(fields)) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.dataset.field = name;
    dd.textContent = JSON.stringify(value);
    list.append(dt, dd);
  }
}

document.getElementById('run').addEventListener('click', run);
if (params.get('auto') === '1') run();
