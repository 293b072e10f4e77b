// What both SDK drivers share: one JSON line per event on stdout, and a
// pipeline policy that reports each of the client's GETs (its poller's polls).
export const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");

export function countPolls(client) {
  const counter = { polls: 0 };
  client.pipeline.addPolicy({
    name: "count-polls",
    async sendRequest(request, next) {
      const response = await next(request);
      if (request.method === "GET") say({ event: "poll", n: ++counter.polls, status: response.status });
      return response;
    },
  });
  return counter;
}
