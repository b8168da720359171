// `hubmirror sync` against fake_hub.mjs where access is the question: tokens (sent to the hub on
// every request, never to the CDN, never printed), gated repos (401 and 403 GatedRepo, on the
// API or only on file downloads: a clear message, nothing published; once mirrored, gated on the
// mirror too), missing repos next to good ones, and a tree `Link` that leads to another host.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test sync_access.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { describe } from "node:test";

import { assertGatedAnonymously, BIN, createMirrorToken } from "../support/harness.mjs";
import { assertRepoServed } from "./scenario.mjs";
import { APPROVED_TOKEN, assertCdnNeverSawAuthorization, assertEachFileServedOnce, assertMirrored, assertNotPublished, assertSecretNotPrinted, CONFIG, modelRepo, syncScenarios, TOKEN_ENV, UNAPPROVED_TOKEN } from "./sync_fixtures.mjs";

const { scenario, newDataDir } = syncScenarios("hubmirror-sync-access-");

/** stderr names the gated repo and says what to do: accept its terms upstream, pass a token. */
function assertGateAdvice(run, repoId) {
	assert.ok(run.stderr.includes(repoId), "stderr names the repo");
	assert.match(run.stderr, /gated/i, "stderr says the repo is gated");
	assert.match(run.stderr, /accept/i, "stderr tells the operator to accept the terms upstream");
	assert.match(run.stderr, /--token-env/, "stderr tells the operator to pass a token with --token-env");
}

describe("hubmirror sync with tokens, gated and missing repos", () => {
	scenario("with --token-env, Authorization reaches the hub on every request and never the CDN", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/gated", { gated: true, approvedTokens: [APPROVED_TOKEN] })] });
		const data = newDataDir();

		const run = await ctx.sync(data, ["--token-env", TOKEN_ENV, "acme/gated"], { env: { [TOKEN_ENV]: APPROVED_TOKEN } });
		assert.equal(run.code, 0, "an approved token syncs the gated repo");

		const toHub = hub.requests({ server: "hub" });
		assert.ok(toHub.some((r) => r.route === "resolve-cache"), "small files went through /api/resolve-cache");
		for (const r of toHub) {
			assert.equal(r.authorization, `Bearer ${APPROVED_TOKEN}`, `request #${r.n} (${r.route}) to the hub lacks the token`);
		}
		const cdn = hub.requests({ server: "cdn" });
		assert.equal(cdn.length, 2, "both LFS files came from the CDN");
		assert.ok(cdn.every((r) => r.status === 200 && !r.signatureError), "the signed CDN URLs were used intact");
		assertCdnNeverSawAuthorization(hub);
		assertSecretNotPrinted(run, APPROVED_TOKEN);
		assertEachFileServedOnce(hub, "acme/gated");
		// Gated here as upstream: read by a mirror user granted access, never with the upstream's token.
		const token = await createMirrorToken(BIN, data, "reader", { grants: ["acme/gated"] });
		const mirror = await ctx.serve(data);
		await assertRepoServed(mirror, hub, "acme/gated", { token });
		await assertGatedAnonymously(`${mirror.url}/acme/gated/resolve/main/${CONFIG}`);
	});

	for (const { label, token, status } of [
		{ label: "anonymous (bare 401, no X-Error-Code)", token: undefined, status: 401 },
		{ label: "with a token (404 RepoNotFound)", token: APPROVED_TOKEN, status: 404 },
	]) {
		scenario(`a missing repo next to a good one, ${label}: exit 1, the good one is mirrored`, async (ctx) => {
			const hub = await ctx.startHub({ repos: [modelRepo("acme/good")] });
			const data = newDataDir();

			const tokenArgs = token ? ["--token-env", TOKEN_ENV] : [];
			const run = await ctx.sync(data, [...tokenArgs, "acme/missing", "acme/good"], { env: token ? { [TOKEN_ENV]: token } : {} });
			assert.equal(run.code, 1, "one repo failed");
			assert.deepEqual(
				hub.requests({ repo: "acme/missing" }).map((r) => r.status),
				[status],
				"the missing repo costs one request",
			);
			const missingLines = run.stderr.split("\n").filter((l) => l.includes("acme/missing"));
			assert.ok(missingLines.some((l) => /not found/i.test(l)), "stderr says acme/missing was not found");
			const goodComplaints = run.stderr
				.split("\n")
				.filter((l) => l.includes("acme/good") && /^hubmirror:|\b(error|warning|fail(ed)?|not found)\b/i.test(l));
			assert.deepEqual(goodComplaints, [], "the good repo is not reported as failed");
			assert.match(run.stdout, /acme\/good\S*: mirrored/);
			if (token) assertSecretNotPrinted(run, token);
			assertEachFileServedOnce(hub, "acme/good");
			await assertMirrored(data, hub, "acme/good");
			await assertNotPublished(data, "acme/missing");
		});
	}

	scenario("a tree Link that points to another host is not followed (the token stays home)", async (ctx) => {
		const hub = await ctx.startHub({});
		hub.addRepo(modelRepo("acme/link-elsewhere", { treeLinkOrigin: hub.cdnUrl }));
		const data = newDataDir();

		const run = await ctx.sync(data, ["--token-env", TOKEN_ENV, "acme/link-elsewhere"], { env: { [TOKEN_ENV]: APPROVED_TOKEN } });
		assert.equal(run.code, 1, "a tree that continues on another host cannot be trusted");
		assert.equal(hub.requests({ server: "cdn" }).length, 0, "nothing was sent to the other host");
		assert.match(run.stderr, /acme\/link-elsewhere/);
		assertSecretNotPrinted(run, APPROVED_TOKEN);
		await assertNotPublished(data, "acme/link-elsewhere");
	});

	scenario("gated repo, no token: 401 GatedRepo, a message saying what to do, nothing published", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/gated", { gated: true, approvedTokens: [APPROVED_TOKEN] })] });
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/gated"]);
		assert.equal(run.code, 1);
		assert.ok(hub.log.some((r) => r.status === 401 && r.errorCode === "GatedRepo"), "the hub answered 401 GatedRepo");
		assertGateAdvice(run, "acme/gated");
		assert.equal(hub.requests({ server: "cdn" }).length, 0, "nothing was downloaded");
		await assertNotPublished(data, "acme/gated");
	});

	scenario("gated repo, token not approved: 403 GatedRepo, the token reaches the hub, nothing published", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/gated", { gated: true, approvedTokens: [APPROVED_TOKEN] })] });
		const data = newDataDir();

		const run = await ctx.sync(data, ["--token-env", TOKEN_ENV, "acme/gated"], { env: { [TOKEN_ENV]: UNAPPROVED_TOKEN } });
		assert.equal(run.code, 1);
		assert.ok(hub.log.some((r) => r.status === 403 && r.errorCode === "GatedRepo"), "the hub answered 403 GatedRepo");
		for (const r of hub.requests({ server: "hub" })) {
			assert.equal(r.authorization, `Bearer ${UNAPPROVED_TOKEN}`, `request #${r.n} to the hub lacks the token`);
		}
		assertGateAdvice(run, "acme/gated");
		assertSecretNotPrinted(run, UNAPPROVED_TOKEN);
		await assertNotPublished(data, "acme/gated");
	});

	scenario("gate enforced only on file downloads: 401 GatedRepo on /resolve gives the same advice, nothing published", async (ctx) => {
		const hub = await ctx.startHub({
			repos: [modelRepo("acme/gated-files", { gated: true, gateOn: ["resolve"], approvedTokens: [APPROVED_TOKEN] })],
		});
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/gated-files"]);
		assert.equal(run.code, 1);
		const resolves = hub.requests({ route: "resolve" });
		assert.ok(resolves.length >= 1 && resolves.every((r) => r.status === 401 && r.errorCode === "GatedRepo"));
		const perPath = new Map();
		for (const r of resolves) perPath.set(r.path, (perPath.get(r.path) ?? 0) + 1);
		for (const [path, n] of perPath) assert.equal(n, 1, `${path}: a 401 GatedRepo is not retried (${n} requests)`);
		assertGateAdvice(run, "acme/gated-files");
		assert.equal(hub.requests({ server: "cdn" }).length, 0);
		await assertNotPublished(data, "acme/gated-files");
	});
});
