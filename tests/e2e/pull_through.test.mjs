// End-to-end test: a pull-through hubmirror (`serve --config` with [pull_through] and nothing synced
// beforehand) in front of the fake Hub (../fault_upstream/fake_hub.mjs) serves the official
// JavaScript client `@huggingface/hub` as the upstream would: a cold snapshot (listing, then every
// file) of a model and of a dataset, the same snapshot again without asking the upstream anything,
// and once the upstream is gone, what was fetched still, while a repo never asked for is a 504.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test pull_through.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { describe, test } from "node:test";

import { datasetInfo, downloadFile, fileDownloadInfo, HubApiError, listFiles, modelInfo } from "@huggingface/hub";

import { startFakeHub } from "../fault_upstream/fake_hub.mjs";
import { BIN, pseudoRandomBytes, serveHubmirror, sha256Hex, useWorkRoot } from "../support/harness.mjs";
import { recordingFetch, served, withTrace } from "./fixture.mjs";

const MiB = 1024 * 1024;
const BIG_FILE = "model.safetensors";

function gitFile(path, text) {
	return { path, content: Buffer.from(text) };
}

function lfsFile(path, size) {
	return { path, content: pseudoRandomBytes(path, size), lfs: true };
}

const MODEL = {
	id: "acme/pt-e2e-model",
	cardData: { license: "mit" },
	files: [
		gitFile(".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"),
		gitFile("README.md", "---\nlicense: mit\n---\n\n# pt-e2e-model\n"),
		gitFile("config.json", JSON.stringify({ model_type: "bert", hidden_size: 64 }) + "\n"),
		gitFile("tokenizer/vocab/merges.txt", "a b\nc d\n"),
		gitFile("tokenizer/special tokens.json", JSON.stringify({ pad: "[PAD]" }) + "\n"),
		// Odd sizes on purpose: Content-Length and ranges must be exact.
		lfsFile(BIG_FILE, 6 * MiB + 13),
		lfsFile("adapters/lora.bin", 48 * 1024 + 7),
	],
};
const DATASET = {
	id: "acme/pt-e2e-data",
	type: "dataset",
	files: [
		gitFile("README.md", "---\nlicense: cc-by-4.0\n---\n\n# pt-e2e-data\n"),
		gitFile("data/meta/info.json", JSON.stringify({ rows: 3 }) + "\n"),
		lfsFile("data/train-00000-of-00001.parquet", MiB + 77),
	],
};
const REPOS = [
	{ spec: MODEL, repo: { type: "model", name: MODEL.id }, info: modelInfo },
	{ spec: DATASET, repo: { type: "dataset", name: DATASET.id }, info: datasetInfo },
];

const state = { hub: undefined };

/** The X-Mirror-Cache and X-Error-Code of each answer the mirror gave the client. */
const answers = [];

/** recordingFetch that also keeps the headers the client's errors do not expose. */
async function mirrorFetch(input, init) {
	const resp = await recordingFetch(input, init);
	answers.push({
		path: decodeURIComponent(new URL(resp.url).pathname),
		range: new Headers(init?.headers).get("range"),
		status: resp.status,
		cache: resp.headers.get("x-mirror-cache"),
		errorCode: resp.headers.get("x-error-code"),
	});
	return resp;
}

useWorkRoot("hubmirror-e2e-pull-through-", {
	timeout: 30_000,
	async setup(work) {
		state.hub = await startFakeHub({ repos: [MODEL, DATASET] });
		const config = work.dir("config.toml");
		const lines = ["[upstream]", `url = "${state.hub.url}"`, "", "[pull_through]", "enabled = true", 'allow = ["*"]', ""];
		await writeFile(config, lines.join("\n"));
		served.server = await serveHubmirror(BIN, work.dir("empty-data"), { args: ["--config", config], keepStderr: 8000 });
		served.url = served.server.url;
	},
	async teardown() {
		await served.server?.stop();
		await state.hub?.close();
	},
});

/** Every file entry of a recursive listing, by path. */
async function listing(repo, hubUrl, fetch) {
	const files = new Map();
	for await (const e of listFiles({ repo, recursive: true, hubUrl, fetch })) {
		if (e.type === "file") files.set(e.path, e);
	}
	return files;
}

/** Downloads every file of `spec` through the mirror; each body must be the upstream's, byte for byte. */
async function downloadAll({ spec, repo }) {
	for (const f of spec.files) {
		const blob = await downloadFile({ repo, path: f.path, hubUrl: served.url, fetch: mirrorFetch });
		assert.ok(blob, `${repo.name}/${f.path}: downloadFile returned null`);
		const body = Buffer.from(await blob.arrayBuffer());
		assert.equal(body.length, f.content.length, `${repo.name}/${f.path}: bytes received`);
		assert.equal(sha256Hex(body), sha256Hex(f.content), `${repo.name}/${f.path}: sha256 of the body`);
	}
}

/** The snapshot a client takes: the recursive listing, then each file. */
async function snapshot(r) {
	const files = await listing(r.repo, served.url, mirrorFetch);
	assert.deepEqual([...files.keys()].sort(), r.spec.files.map((f) => f.path).sort(), `${r.repo.name}: files listed`);
	await downloadAll(r);
	return files;
}

/** The /resolve answers the client got since `from` that did not say X-Mirror-Cache: hit. */
function resolveAnswersNotHit(from) {
	return answers.slice(from).filter((a) => a.path.includes("/resolve/") && a.cache !== "hit");
}

describe("a pull-through hubmirror serves @huggingface/hub what the upstream has", () => {
	test("a cold snapshot of a model and a dataset matches the upstream", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const r of REPOS) {
				const files = await snapshot(r);
				const upstream = await listing(r.repo, state.hub.url, fetch);
				for (const [path, u] of upstream) {
					const m = files.get(path);
					assert.deepEqual([m.size, m.oid, m.lfs], [u.size, u.oid, u.lfs], `${r.repo.name}/${path}: listed as upstream`);
					const got = await fileDownloadInfo({ repo: r.repo, path, hubUrl: served.url, fetch: mirrorFetch });
					assert.ok(got, `${r.repo.name}/${path}: fileDownloadInfo returned null`);
					assert.equal(got.size, u.size, `${r.repo.name}/${path}: fileDownloadInfo size`);
					assert.equal(got.etag, `"${u.lfs ? u.lfs.oid : u.oid}"`, `${r.repo.name}/${path}: ETag (sha256 or git blob id)`);
				}
				const mine = await r.info({ name: r.repo.name, hubUrl: served.url, additionalFields: ["sha"], fetch: mirrorFetch });
				const theirs = await r.info({ name: r.repo.name, hubUrl: state.hub.url, additionalFields: ["sha"] });
				assert.equal(mine.sha, theirs.sha, `${r.repo.name}: the mirror's commit is the upstream's`);
				assert.equal(mine.name, r.repo.name, `${r.repo.name}: name`);
			}
			for (const a of answers.filter((x) => x.path.includes("/resolve/"))) {
				assert.ok(["hit", "fill", "pass"].includes(a.cache), `X-Mirror-Cache on ${a.path}: ${a.cache}`);
			}
			const big = MODEL.files.find((f) => f.path === BIG_FILE).content.length;
			const sent = state.hub.bytesServed(MODEL.id, BIG_FILE);
			// A client's 1-byte probe may be relayed; the file itself crosses once, fills are shared.
			assert.ok(sent >= big && sent <= big + 1, `the CDN sent ${sent} bytes of ${BIG_FILE} (${big} bytes)`);
		});
	});

	test("the same snapshot again asks the upstream nothing", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const logged = state.hub.log.length;
			const from = answers.length;
			for (const r of REPOS) {
				await snapshot(r);
				await r.info({ name: r.repo.name, hubUrl: served.url, additionalFields: ["sha"], fetch: mirrorFetch });
			}
			assert.deepEqual(state.hub.describe().slice(logged), [], "requests the upstream got on a warm snapshot");
			assert.deepEqual(resolveAnswersNotHit(from), [], "a warm /resolve is answered from the store");
		});
	});

	test("with the upstream gone, fetched files still download; a repo never asked for is a 504", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const hubUrl = state.hub.url;
			await state.hub.close();
			state.hub = undefined;
			const from = answers.length;
			for (const r of REPOS) {
				await downloadAll(r);
			}
			assert.deepEqual(resolveAnswersNotHit(from), [], "with the upstream gone /resolve is answered from the store");

			const never = { type: "model", name: "acme/never-asked" };
			const calls = [
				() => modelInfo({ name: never.name, hubUrl: served.url, fetch: mirrorFetch }),
				() => downloadFile({ repo: never, path: "config.json", hubUrl: served.url, fetch: mirrorFetch }),
			];
			for (const call of calls) {
				const before = answers.length;
				await assert.rejects(call, (err) => {
					assert.ok(err instanceof HubApiError, `not a HubApiError: ${err}`);
					assert.equal(err.statusCode, 504, `status of ${err.url}: ${err.message}`);
					// The client keeps a JSON body's message in `message`, a text body in `data`.
					const said = `${err.message} ${JSON.stringify(err.data)}`;
					assert.ok(said.includes(hubUrl), `the error names the upstream ${hubUrl}: ${said}`);
					return true;
				});
				const last = answers.at(-1);
				assert.equal(answers.length, before + 1, "one request to the mirror");
				assert.equal(last.errorCode, "UpstreamUnavailable", `X-Error-Code of ${last.path}`);
			}
		});
	});
});
