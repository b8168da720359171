// `hubmirror sync` against fake_hub.mjs without faults: what it asks a Hub-like upstream for (a
// CDN 302 for LFS files, a relative 307 to /api/resolve-cache for small files, a paginated tree
// with xetHash, the Hub's 307s for legacy ids), that it publishes the repo byte for byte, and
// that a re-sync of an unchanged repo downloads nothing and costs one request.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test sync_clean.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { describe } from "node:test";

import { encodePath, sha256Hex, withServers } from "../support/harness.mjs";
import { assertEachFileServedOnce, assertMirrored, modelRepo, syncScenarios } from "./sync_fixtures.mjs";

const { scenario, newDataDir } = syncScenarios("hubmirror-sync-clean-");

describe("hubmirror sync against a Hub-like upstream without faults", () => {
	scenario("no fault: CDN 302, relative 307, paginated tree with xetHash; re-sync downloads nothing", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/clean")] });
		const repo = hub.repo("acme/clean");
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/clean"]);
		assert.equal(run.code, 0, "sync must succeed");
		assert.match(run.stdout, new RegExp(repo.sha), "stdout names the mirrored commit");

		// The tree: every page once, in order, following absolute Link headers with a cursor.
		const pages = hub.requests({ route: "tree" });
		const pageCount = Math.ceil(repo.tree.length / 2);
		assert.deepEqual(pages.map((r) => r.page), [...Array(pageCount).keys()], "each tree page fetched once, in order");
		for (const r of pages.slice(1)) assert.match(r.url, /[?&]cursor=/, "later pages come from the Link cursor");

		for (const file of repo.files.values()) {
			const resolves = hub.requests({ route: "resolve", path: file.path });
			assert.equal(resolves.length, 1, `${file.path}: one /resolve request`);
			assert.equal(resolves[0].status, file.lfs ? 302 : 307);
			if (file.lfs) {
				const cdn = hub.requests({ route: "cdn", path: file.path });
				assert.equal(cdn.length, 1, `${file.path}: one CDN request`);
				assert.equal(cdn[0].status, 200, `${file.path}: CDN answered ${cdn[0].status} (${cdn[0].signatureError ?? ""})`);
			} else {
				const cached = hub.requests({ route: "resolve-cache", path: file.path });
				assert.equal(cached.length, 1, `${file.path}: one /api/resolve-cache request`);
				assert.equal(cached[0].status, 200);
			}
		}
		assertEachFileServedOnce(hub, "acme/clean");
		assert.equal(hub.log.filter((r) => r.authorization !== null).length, 0, "no token given, none sent");

		// Unchanged upstream: nothing listed, nothing downloaded.
		const before = hub.log.length;
		const again = await ctx.sync(data, ["acme/clean"]);
		assert.equal(again.code, 0);
		assert.match(again.stdout, /up to date/);
		const later = hub.log.slice(before);
		assert.deepEqual(
			later.filter((r) => ["tree", "resolve", "resolve-cache", "cdn"].includes(r.route)).map((r) => r.url),
			[],
			"an up-to-date re-sync lists and downloads nothing",
		);

		await assertMirrored(data, hub, "acme/clean");
	});

	scenario("re-syncing an unchanged repo makes exactly one request to the upstream", async (ctx) => {
		const hub = await ctx.startHub({ repos: [modelRepo("acme/unchanged")] });
		const data = newDataDir();

		const first = await ctx.sync(data, ["acme/unchanged"]);
		assert.equal(first.code, 0, "the first sync must succeed");
		assert.ok(hub.requests({ route: "cdn" }).length > 0, "the first sync downloaded the files");

		const before = hub.log.length;
		const again = await ctx.sync(data, ["acme/unchanged"]);
		assert.equal(again.code, 0, "the re-sync must succeed");
		assert.match(again.stdout, /up to date/);
		const requests = hub.log.slice(before);
		const seen = requests.map((r) => `${r.server} ${r.method} ${r.url} -> ${r.status}`).join("\n  ");
		assert.equal(requests.length, 1, `the re-sync made ${requests.length} requests to the upstream, not one:\n  ${seen}`);
		assert.equal(requests[0].route, "revision", "the one request is the repo info at the revision");
		assert.equal(requests[0].status, 200);

		await assertMirrored(data, hub, "acme/unchanged");
	});

	scenario("a legacy or renamed id follows the Hub's relative 307s to the canonical repo", async (ctx) => {
		const hub = await ctx.startHub({
			repos: [modelRepo("google-bert/bert-base-uncased")],
			aliases: { "bert-base-uncased": "google-bert/bert-base-uncased" },
		});
		const data = newDataDir();
		const run = await ctx.sync(data, ["bert-base-uncased"]);
		assert.equal(run.code, 0, "sync must succeed through the redirects");
		const redirected = hub.requests({ route: "alias" });
		assert.ok(redirected.some((r) => r.url.startsWith("/api/models/bert-base-uncased/revision/")), "repo info was redirected");
		assert.ok(redirected.some((r) => r.url.startsWith("/bert-base-uncased/resolve/")), "downloads were redirected");
		const repo = hub.repo("google-bert/bert-base-uncased");
		await withServers([data], async (mirror) => {
			for (const file of repo.files.values()) {
				const response = await fetch(`${mirror.url}/bert-base-uncased/resolve/main/${encodePath(file.path)}`);
				assert.equal(response.status, 200, `${file.path} served under the requested id`);
				const bytes = Buffer.from(await response.arrayBuffer());
				assert.equal(sha256Hex(bytes), sha256Hex(file.content), `${file.path}: sha256`);
			}
		});
	});
});
