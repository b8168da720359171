// Pull-through: `hubmirror serve --config` with a [pull_through] table and no [[mirror]] rule, in
// front of fake_hub.mjs. A client asks the mirror for repos it does not have; the mirror fetches
// their metadata and files from the upstream in the same request, stores them, and serves them
// from the store afterwards. The tests check the bodies (sha256), statuses and headers the client
// gets (X-Mirror-Cache: hit, fill or pass), what the upstream was asked (the fake hub's request
// log), and what the store holds: after an upstream that vanished, answers 5xx or 429, sends
// wrong bytes; after a SIGKILL mid-fill; for concurrent clients of one file, a cold Range request,
// repos denied, not allowed or gated upstream, a branch moved upstream, and a dataset.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test pull_through.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { getJson, killChildren, sha256Hex } from "../support/harness.mjs";
import { corruptBytes } from "./fake_hub.mjs";
import {
	CONFIG,
	MiB,
	README,
	WEIGHTS,
	apiUrl,
	assertCache,
	assertError,
	assertFilled,
	assertNoUpstreamRequest,
	assertServedFromStore,
	assertStoreClean,
	blobStored,
	contentRequests,
	datasetRepo,
	eventually,
	fileUrl,
	filesWithDigest,
	getFile,
	hashGet,
	mark,
	mirrorRequest,
	modelRepo,
	pullThroughScenarios,
	repoRequests,
	show,
	since,
	startPullThrough,
	withPacedMirror,
} from "./pull_through_fixtures.mjs";

const { scenario, work } = pullThroughScenarios("hubmirror-pull-through-");

/** The files of a repo of the hub (main's), in a stable order. */
function filesOf(hub, repoId, type = "model") {
	return [...hub.repo(repoId, type).files.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** Repo info, recursive tree and paths-info of the mirror: each 200 and as the upstream has them. */
async function assertMetadataServed(mirror, hub, repoId) {
	const repo = hub.repo(repoId);
	const files = filesOf(hub, repoId);
	const info = await mirrorRequest(apiUrl(mirror, repoId));
	assert.equal(info.status, 200, `repo info: ${info.status} ${info.text.slice(0, 300)}`);
	assert.equal(info.body.sha, repo.sha, "repo info: the upstream's commit");
	assert.deepEqual(info.body.cardData, repo.cardData, "repo info: cardData");
	assert.deepEqual(info.body.siblings.map((s) => s.rfilename).sort(), files.map((f) => f.path).sort(), "repo info: siblings");

	const tree = await mirrorRequest(apiUrl(mirror, repoId, "/tree/main?recursive=true"));
	assert.equal(tree.status, 200, `tree: ${tree.status} ${tree.text.slice(0, 300)}`);
	const listed = tree.body.filter((e) => e.type === "file").map((e) => `${e.path} ${e.size} ${e.lfs?.oid ?? "-"}`).sort();
	assert.deepEqual(listed, files.map((f) => `${f.path} ${f.size} ${f.lfs ? f.sha256 : "-"}`).sort(), "tree: every file, size and LFS oid");

	const paths = await mirrorRequest(apiUrl(mirror, repoId, "/paths-info/main"), {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({ paths: files.map((f) => f.path), expand: false }),
	});
	assert.equal(paths.status, 200, `paths-info: ${paths.status} ${paths.text.slice(0, 300)}`);
	const infos = paths.body.map((e) => `${e.path} ${e.size} ${e.oid}`).sort();
	assert.deepEqual(infos, files.map((f) => `${f.path} ${f.size} ${f.oid}`).sort(), "paths-info: path, size and git oid");
}

/** `/api/mirror/status`'s entry of a repo's revision. */
async function statusEntry(mirror, repoId, revision = "main", type = "model") {
	const status = await getJson(`${mirror.url}/api/mirror/status`);
	return { status, entry: status.repos.find((r) => r.id === repoId && r.revision === revision && r.type === type) };
}

describe("hubmirror serve as a pull-through mirror of a Hub-like upstream", () => {
	scenario("cold: every file filled from the upstream once, then served from the store with no upstream request", async (ctx) => {
		const R = "acme/pulled";
		// The config exactly as documented: no [sync] table.
		const { hub, mirror, data } = await startPullThrough(ctx, work, { repos: [modelRepo(R)], config: { sync: null } });
		const files = filesOf(hub, R);

		// Round 1: the first request fetches the revision's metadata; the others reuse it.
		await assertMetadataServed(mirror, hub, R);
		for (const f of files) {
			const before = mark(hub);
			const res = await assertFilled(hub, mirror, R, f, `${f.path}, first download`);
			assert.equal(res.headers["x-repo-commit"], hub.repo(R).sha, `${f.path}: X-Repo-Commit`);
			const other = since(hub, before).filter((r) => r.path !== f.path);
			assert.deepEqual(show(other), "", `${f.path}: a cold file costs requests for that file only`);
			assert.equal(hub.bytesServed(R, f.path), f.size, `${f.path}: its bytes came from the upstream once`);
			if (f.lfs) assert.ok(contentRequests(hub, R, f.path).every((r) => r.route === "cdn"), `${f.path}: LFS bytes come from the CDN`);
		}
		const metadataCalls = repoRequests(hub, R).filter((r) => !["resolve", "cdn", "resolve-cache"].includes(r.route));
		assert.ok(metadataCalls.every((r) => r.status === 200), `metadata calls:\n  ${show(metadataCalls)}`);
		// As many as `hubmirror sync` makes: the revision, the refs, the tree's pages, the commit.
		const syncCalls = 3 + Math.ceil(hub.repo(R).tree.length / 2);
		assert.ok(metadataCalls.length <= syncCalls, `more metadata calls than a sync makes (${syncCalls}):\n  ${show(metadataCalls)}`);

		// Round 2: the same requests, answered from the store.
		const before = mark(hub);
		await assertMetadataServed(mirror, hub, R);
		for (const f of files) await assertServedFromStore(hub, mirror, R, f, `${f.path}, second download`);
		assertNoUpstreamRequest(hub, before, "the second round");

		const { status, entry } = await statusEntry(mirror, R);
		assert.equal(status.pull_through?.enabled, true, `status: ${JSON.stringify(status.pull_through)}`);
		assert.equal(status.pull_through.upstream.replace(/\/$/, ""), hub.url, "status: pull_through.upstream");
		assert.ok(status.pull_through.requests.fill >= files.length, `status requests: ${JSON.stringify(status.pull_through.requests)}`);
		assert.ok(status.pull_through.requests.hit >= files.length, `status requests: ${JSON.stringify(status.pull_through.requests)}`);
		assert.deepEqual(status.pull_through.fills, [], "no fill in progress");
		const filled = status.pull_through.filled_bytes.find((x) => x.repo === R && x.type === "model");
		assert.equal(filled?.bytes, files.reduce((n, f) => n + f.size, 0), `status filled_bytes: ${JSON.stringify(status.pull_through.filled_bytes)}`);
		assert.equal(entry?.source, "pull-through", `status entry: ${JSON.stringify(entry)}`);
		assert.equal(entry.local_commit, hub.repo(R).sha, "status entry: the commit pulled through");
		assert.deepEqual((await assertStoreClean(data)).sort(), [...new Set(files.map((f) => f.sha256))].sort(), "the store holds the repo's files");
	});

	scenario("upstream gone: what is cached is still served; an uncached repo is 504 UpstreamUnavailable naming the upstream", async (ctx) => {
		const [A, B] = ["acme/cached", "acme/never-asked"];
		const { hub, mirror } = await startPullThrough(ctx, work, { repos: [modelRepo(A), modelRepo(B)], config: { maxAgeSeconds: 1 } });
		const files = filesOf(hub, A);
		const commit = hub.repo(A).sha;
		for (const f of files) await getFile(mirror, A, f);
		await hub.close();
		// Past max_age_seconds: the mirror checks the branch upstream again, and cannot.
		await sleep(1_500);

		const info = await mirrorRequest(apiUrl(mirror, A));
		assert.equal(info.status, 200, `repo info of a cached repo, upstream gone: ${info.status} ${info.text.slice(0, 300)}`);
		assert.equal(info.body.sha, commit);
		for (const f of files) {
			const res = await getFile(mirror, A, f);
			assertCache(res, "hit", `${f.path}, upstream gone`);
			assert.equal(res.headers["x-repo-commit"], commit);
		}
		await getFile(mirror, A, files[0], { rev: commit });
		await eventually(async () => (await statusEntry(mirror, A)).entry?.stale === true, 3_000, "the status marks the revision stale");

		for (const url of [apiUrl(mirror, B), fileUrl(mirror, B, CONFIG), apiUrl(mirror, B, "/tree/main")]) {
			const message = assertError(await mirrorRequest(url), 504, "UpstreamUnavailable", `GET ${url}, upstream gone`);
			assert.ok(message.includes(hub.url), `the message names the upstream ${hub.url}: ${message}`);
		}
		assert.ok(mirror.alive(), "serve is still running");
	});

	scenario("upstream 5xx: 504 UpstreamUnavailable; upstream 429: 503 with Retry-After", async (ctx) => {
		const [BROKEN, LIMITED] = ["acme/broken", "acme/limited"];
		const hub = await ctx.startHub({ repos: [modelRepo(BROKEN), modelRepo(LIMITED)] });
		for (const route of ["revision", "tree", "commits", "refs"]) {
			hub.inject({ route, repo: BROKEN, kind: "500", times: Infinity });
			hub.inject({ route, repo: LIMITED, kind: "429", retryAfter: 1, times: Infinity });
		}
		const { mirror } = await startPullThrough(ctx, work);
		for (const url of [apiUrl(mirror, BROKEN), fileUrl(mirror, BROKEN, CONFIG)]) {
			const message = assertError(await mirrorRequest(url), 504, "UpstreamUnavailable", `GET ${url}, upstream 500`);
			assert.ok(message.includes(hub.url), `the message names the upstream ${hub.url}: ${message}`);
		}
		for (const url of [apiUrl(mirror, LIMITED), fileUrl(mirror, LIMITED, CONFIG)]) {
			const res = await mirrorRequest(url);
			assert.equal(res.status, 503, `GET ${url}, upstream 429: ${res.status} ${res.text.slice(0, 300)}`);
			assert.match(res.headers["retry-after"] ?? "", /^\d+$/, `GET ${url}: Retry-After`);
		}
		assert.equal(contentRequests(hub, BROKEN).length + contentRequests(hub, LIMITED).length, 0, "no file fetched");
	});

	scenario("ten concurrent clients of one cold 64 MiB file: all served right, one upstream transfer", async (ctx) => {
		const R = "acme/big";
		const BIG = "consolidated.safetensors";
		const { hub, mirror, data } = await startPullThrough(ctx, work, { repos: [modelRepo(R, { lfs: { [BIG]: 64 * MiB + 4099 } })] });
		const big = hub.repo(R).files.get(BIG);
		assert.equal((await mirrorRequest(apiUrl(mirror, R))).status, 200, "metadata first, so that the ten meet on the content");

		const answers = await Promise.all(Array.from({ length: 10 }, () => hashGet(fileUrl(mirror, R, BIG))));
		for (const [i, res] of answers.entries()) {
			assert.equal(res.status, 200, `client ${i}: ${res.status} ${res.head}`);
			assert.ok(res.complete && res.size === big.size, `client ${i}: ${res.size} of ${big.size} bytes`);
			assert.equal(res.sha256, big.sha256, `client ${i}: bytes`);
			assert.ok(["fill", "hit"].includes(res.headers["x-mirror-cache"]), `client ${i}: X-Mirror-Cache ${res.headers["x-mirror-cache"]}`);
		}
		assert.ok(answers.some((res) => res.headers["x-mirror-cache"] === "fill"), "one client at least saw the fill");
		const transfers = contentRequests(hub, R, BIG);
		assert.equal(hub.bytesServed(R, BIG), big.size, `the CDN sent ${hub.bytesServed(R, BIG)} bytes of a ${big.size}-byte file:\n  ${show(transfers)}`);
		assert.ok(transfers.every((r) => r.status === 200 || r.status === 206), `CDN requests:\n  ${show(transfers)}`);
		assert.ok(await blobStored(data, big.sha256), "the file is stored");
	}, { timeout: 45_000 });

	scenario("wrong bytes upstream: the client's body is cut, nothing is stored, the next request fetches again", async (ctx) => {
		const R = "acme/corrupted";
		const { hub, mirror, data } = await startPullThrough(ctx, work, { repos: [modelRepo(R)] });
		const file = hub.repo(R).files.get(WEIGHTS);
		assert.equal((await mirrorRequest(apiUrl(mirror, R))).status, 200);
		hub.inject({ route: "content", repo: R, path: WEIGHTS, kind: "corrupt", times: Infinity });

		const bad = await hashGet(fileUrl(mirror, R, WEIGHTS));
		assert.ok(contentRequests(hub, R, WEIGHTS).some((r) => r.fault === "corrupt"), "the upstream sent the wrong bytes");
		const declared = Number(bad.headers["content-length"] ?? NaN);
		assert.equal(bad.status, 200, `the fill streams: its status is sent before the end (${bad.head})`);
		assert.ok(!bad.complete || bad.size < declared, `the body of wrong bytes must end incomplete (${bad.size} bytes, Content-Length ${declared}, complete ${bad.complete})`);
		assert.ok(bad.size < file.size, `the client got ${bad.size} bytes of a ${file.size}-byte file: never the last byte`);
		assert.equal(await blobStored(data, file.sha256), false, "nothing stored under the file's digest");
		const wrong = corruptBytes(file.content);
		assert.deepEqual(await filesWithDigest(join(data, "blobs"), wrong.length, sha256Hex(wrong)), [], "the wrong bytes entered the store");
		await assertStoreClean(data);
		const verify = await ctx.run(["verify", "--data", data]);
		assert.equal(verify.code, 0, `verify: content never stored is not missing (exit ${verify.code}): ${verify.stdout}${verify.stderr}`);

		hub.clearFaults();
		await assertFilled(hub, mirror, R, file, "after the upstream is repaired");
		await assertServedFromStore(hub, mirror, R, file, "then");
	});

	scenario("SIGKILL of the server mid-fill: after a restart the next request fills again, right bytes", async (ctx) => {
		const R = "acme/killed-fill";
		const BIG = "model-00001-of-00001.safetensors";
		const options = { repoId: R, path: BIG, size: 6 * MiB + 321, bytesPerSecond: 2 * MiB };
		await withPacedMirror(ctx, work, options, async ({ hub, relay, mirror, data, serve, big }) => {
			const progress = { received: 0 };
			const cut = hashGet(fileUrl(mirror, R, BIG), { progress });
			await eventually(() => progress.received >= MiB, 10_000, "the client received its first MiB");
			// The tests of a file run one at a time: this mirror is the only hubmirror running.
			killChildren();
			const first = await cut;
			assert.ok(!first.complete && first.size < big.size, `the killed server's client got ${first.size} of ${big.size} bytes`);
			await eventually(() => !mirror.alive(), 5_000, "the server died");
			assert.equal(await blobStored(data, big.sha256), false, "a fill killed half-way stored nothing");

			relay.bytesPerSecond = Infinity;
			const restarted = await serve();
			await assertFilled(hub, restarted, R, big, "after the restart");
			assert.ok(await blobStored(data, big.sha256), "the refill is stored");
			await assertStoreClean(data);
			await assertServedFromStore(hub, restarted, R, big, "then");
		});
	});

	scenario("a cold Range request is answered at once from the upstream (206), and the whole file is stored", async (ctx) => {
		const R = "acme/ranged";
		const BIG = "model.gguf";
		// A full fill takes 6 s at this pace (2 s if fetched as three parallel 8 MiB ranges).
		const options = { repoId: R, path: BIG, size: 24 * MiB + 11, bytesPerSecond: 4 * MiB };
		await withPacedMirror(ctx, work, options, async ({ hub, mirror, data, big }) => {
			const [a, b] = [13 * MiB + 777, 13 * MiB + 777 + 256 * 1024 - 1];
			const res = await hashGet(fileUrl(mirror, R, BIG), { headers: { range: `bytes=${a}-${b}` }, timeoutMs: 5_000 });
			const storedThen = await blobStored(data, big.sha256);
			assert.equal(res.status, 206, `Range bytes=${a}-${b}: ${res.status} ${res.head}`);
			assert.equal(res.headers["content-range"], `bytes ${a}-${b}/${big.size}`, "Content-Range");
			assert.ok(res.complete, "the range's body is complete");
			assert.equal(res.sha256, sha256Hex(big.content.subarray(a, b + 1)), "the range's bytes");
			assertCache(res, "pass", "a range relayed from the upstream");
			assert.ok(res.ms < 1_500, `the range took ${Math.round(res.ms)} ms: it must not wait for the whole file`);
			assert.equal(storedThen, false, "the range was answered before the whole file could be stored");

			await eventually(() => blobStored(data, big.sha256), 20_000, "the background fill stored the file");
			await assertServedFromStore(hub, mirror, R, big, "the full file after the background fill");
			await assertStoreClean(data);
		});
	});

	scenario("denied and not-allowed repos are 404 without an upstream request; a gated repo is 403 GatedRepo, not stored", async (ctx) => {
		const [OPEN, DENIED, ELSEWHERE, MODEL_OF_DATASET_ORG, GATED] = ["acme/open", "acme/secret-weights", "other/model", "data-org/a-model", "acme/gated"];
		const repos = [modelRepo(OPEN), modelRepo(DENIED), modelRepo(ELSEWHERE), modelRepo(MODEL_OF_DATASET_ORG), modelRepo(GATED, { gated: "auto" })];
		const config = { allow: ["acme/*", "datasets/data-org/*"], deny: ["acme/secret-*"], gated: false };
		const { hub, mirror, data } = await startPullThrough(ctx, work, { repos, config });

		await assertFilled(hub, mirror, OPEN, hub.repo(OPEN).files.get(CONFIG), "an allowed repo");
		for (const id of [DENIED, ELSEWHERE, MODEL_OF_DATASET_ORG]) {
			for (const url of [apiUrl(mirror, id), fileUrl(mirror, id, CONFIG), apiUrl(mirror, id, "/tree/main")]) {
				assertError(await mirrorRequest(url), 404, "RepoNotFound", `GET ${url}`);
			}
			assert.deepEqual(show(repoRequests(hub, id)), "", `${id} is not pulled through: no upstream request for it`);
		}

		for (const url of [fileUrl(mirror, GATED, CONFIG), apiUrl(mirror, GATED), fileUrl(mirror, GATED, WEIGHTS)]) {
			const message = assertError(await mirrorRequest(url), 403, "GatedRepo", `GET ${url}`);
			assert.match(message, /gated/i, `the message says the repo is gated upstream: ${message}`);
		}
		const gatedFiles = repoRequests(hub, GATED).filter((r) => ["resolve", "cdn", "resolve-cache"].includes(r.route));
		assert.deepEqual(show(gatedFiles), "", "no file of the gated repo is fetched");
		for (const f of hub.repo(GATED).files.values()) assert.equal(await blobStored(data, f.sha256), false, `${f.path} of the gated repo stored`);
		const { status } = await statusEntry(mirror, GATED);
		assert.ok(!status.repos.some((r) => r.id === GATED), `the gated repo is in the status: ${JSON.stringify(status.repos)}`);
	});

	scenario("a branch moved upstream is seen only after max_age_seconds; a commit id stays served", async (ctx) => {
		const R = "acme/moving";
		const { hub, mirror } = await startPullThrough(ctx, work, { repos: [modelRepo(R)], config: { maxAgeSeconds: 2 } });
		const oldCommit = hub.repo(R).sha;
		const oldConfig = hub.repo(R).files.get(CONFIG);
		const info = await mirrorRequest(apiUrl(mirror, R));
		const fetchedAt = Date.now();
		assert.equal(info.body.sha, oldCommit);
		assertCache(await getFile(mirror, R, oldConfig), "fill", "config.json at the old commit");

		const newFiles = [...hub.repo(R).files.values()].map((f) => ({
			path: f.path,
			lfs: f.lfs,
			content: f.path === CONFIG ? Buffer.from('{"model_type": "llama", "hidden_size": 128}\n') : f.content,
		}));
		const newCommit = hub.setRef(R, "main", { files: newFiles });
		const newConfig = hub.repo(R).files.get(CONFIG);
		assert.notEqual(newCommit, oldCommit);

		const before = mark(hub);
		assert.equal((await mirrorRequest(apiUrl(mirror, R))).body.sha, oldCommit, "within max_age_seconds: the old commit");
		const stale = await getFile(mirror, R, oldConfig);
		assert.equal(stale.headers["x-repo-commit"], oldCommit, "within max_age_seconds: X-Repo-Commit");
		assertCache(stale, "hit", "within max_age_seconds");
		assert.ok(Date.now() - fetchedAt < 2_000, "the checks within max_age_seconds took too long to mean anything");
		assertNoUpstreamRequest(hub, before, "within max_age_seconds");

		await sleep(Math.max(0, fetchedAt + 2_500 - Date.now()));
		await eventually(async () => (await mirrorRequest(apiUrl(mirror, R))).body.sha === newCommit, 5_000, "the mirror moved main to the new commit");
		const moved = await getFile(mirror, R, newConfig);
		assert.equal(moved.headers["x-repo-commit"], newCommit, "after max_age_seconds: X-Repo-Commit");

		const old = await assertServedFromStore(hub, mirror, R, oldConfig, "the old commit, by id: cached for good", { rev: oldCommit });
		assert.equal(old.headers["x-repo-commit"], oldCommit, "the old commit, by id");
	});

	scenario("a dataset is pulled through the same way; a model of the same id the upstream lacks is 404", async (ctx) => {
		const D = "data-org/corpus";
		const { hub, mirror } = await startPullThrough(ctx, work, { repos: [datasetRepo(D)] });
		const files = filesOf(hub, D, "dataset");
		assert.ok(files.some((f) => f.lfs) && files.some((f) => !f.lfs), "one small and one LFS file");
		const info = await mirrorRequest(apiUrl(mirror, D, "", "dataset"));
		assert.equal(info.status, 200, `dataset info: ${info.status} ${info.text.slice(0, 300)}`);
		assert.equal(info.body.sha, hub.repo(D, "dataset").sha);
		for (const f of files) {
			await assertFilled(hub, mirror, D, f, `${f.path}, first download`, { type: "dataset" });
			assert.equal(hub.bytesServed(D, f.path), f.size, `${f.path}: fetched once`);
		}
		assert.ok(contentRequests(hub, D).every((r) => r.repoType === "dataset"), "the dataset's routes were used");

		const before = mark(hub);
		for (const f of files) assertCache(await getFile(mirror, D, f, { type: "dataset" }), "hit", `${f.path}, second download`);
		assert.equal((await mirrorRequest(apiUrl(mirror, D, "", "dataset"))).status, 200);
		assertNoUpstreamRequest(hub, before, "the second round");

		assertError(await mirrorRequest(apiUrl(mirror, D)), 404, "RepoNotFound", "a model the upstream does not have");
		assertError(await mirrorRequest(fileUrl(mirror, D, README)), 404, "RepoNotFound", "a file of a model the upstream does not have");
	});
});
