// End-to-end test of multipart LFS uploads (hub-protocol §12.6.4) on `hubmirror serve`
// (configured to send objects over 100 MiB in parts), with alice (a write token) and her repo
// alice/big made by createRepo:
//  - `@huggingface/hub` uploadFiles of a 300 MiB file, a small LFS file and a regular one: the
//    batch API answers the large one with three part URLs and a completion URL, the small one with
//    a single PUT, the client sends the parts at once (so they reach the server in any order),
//    completes, commits; the files read back with the same sha256, and listFiles and pathsInfo
//    show that sha256 as the large one's LFS oid;
//  - the protocol spoken directly, on objects of two full parts and a short third: the answer's
//    shape (chunk_size, one URL per part, "multipart" when any object got parts, one PUT for the
//    others); parts sent out of order, each answered with its quoted ETag, one sent again, one of
//    the wrong length; completions naming the wrong oid, count or ETag (400), parts not received
//    (409), a forged URL (403), then the right one (200, and 200 again), then a commit naming the
//    object that reads back right; an object whose parts are of the right sizes but one byte
//    wrong: its completion is 400, nothing is stored and a commit naming it is refused;
//  - without "multipart" offered, or for an object of one part at most, a single PUT URL.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test publish_multipart.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";

import { createRepo, downloadFile, listFiles, pathsInfo, uploadFiles } from "@huggingface/hub";

import { BIN, blobPath, gitBlobSha1, lfsPointer, pseudoRandomBytes, pseudoRandomStream, serveHubmirror, sha256Hex, useWorkRoot } from "../support/harness.mjs";
import { recordingFetch, withTrace } from "./fixture.mjs";
import { describeAnswer, publishHelpers } from "./publish_support.mjs";

const REPO = "alice/big";
const MiB = 1024 * 1024;
/** The server's part size, as the Hub's: 100 MiB. */
const PART = 100 * MiB;
/** The smallest objects that need three parts, with a short last part of an odd size. */
const THREE_PARTS = 2 * PART + 64 * 1024 + 3;
const HEX40 = /^[0-9a-f]{40}$/;

/** The data dir, its server and URL, and alice's write token (tokens.alice). */
const world = { data: "", server: undefined, url: "", tokens: {} };

const { asAlice, call, cli, commitLines, headOf, lfsBatch, putBytes, writeToken } = publishHelpers(world);

const work = useWorkRoot("hubmirror-e2e-publish-multipart-", {
	timeout: 60_000,
	async setup(root) {
		world.data = root.dir("data");
		// Objects go in parts from over one part (100 MiB) on, rather than the default 1 GiB, so
		// that this suite's objects are sent in parts.
		const config = root.dir("hubmirror.toml");
		await writeFile(config, "[publish]\nmultipart_above_bytes = 104857600\n");
		// serve makes the registry; alice is added to it while it runs.
		world.server = await serveHubmirror(BIN, world.data, { args: ["--config", config], keepStderr: 8000 });
		world.url = world.server.url;
		await cli(["user", "add", "alice"]);
		world.tokens.alice = await writeToken("alice");
		await createRepo({ repo: REPO, hubUrl: world.url, accessToken: world.tokens.alice, fetch: recordingFetch });
	},
	async teardown() {
		await world.server?.stop();
	},
});

/** A completion as the clients send it: no token, the parts with the ETags their PUTs answered. */
const complete = (href, body) => call("POST", href, { body: JSON.stringify(body), contentType: "application/vnd.git-lfs+json" });

/** The completion body of `oid` in `count` parts, ETags as the server gives them. */
const partsOf = (oid, count) => ({ oid, parts: Array.from({ length: count }, (_, i) => ({ partNumber: i + 1, etag: `"part-${i + 1}"` })) });

/** The sha256 and length of a file of the repo as downloadFile streams it (no copy kept). */
async function downloadedDigest(path) {
	const blob = await downloadFile({ repo: REPO, path, ...asAlice() });
	assert.ok(blob, `${path}: downloadFile found nothing`);
	const hash = createHash("sha256");
	let size = 0;
	for await (const chunk of blob.stream()) {
		hash.update(chunk);
		size += chunk.length;
	}
	return { sha256: hash.digest("hex"), size };
}

/** The LFS answer of one object of a batch, which must ask for a multipart upload of `size` bytes. */
function multipartAction(object, size) {
	const upload = object.actions?.upload;
	assert.ok(upload?.header?.chunk_size, `a multipart upload action: ${JSON.stringify(object)}`);
	assert.equal(upload.header.chunk_size, String(PART));
	const partKeys = Object.keys(upload.header).filter((key) => key !== "chunk_size");
	const count = Math.ceil(size / PART);
	assert.deepEqual(partKeys, Array.from({ length: count }, (_, i) => String(i + 1).padStart(5, "0")), "part keys 00001, 00002, ...");
	const completion = new URL(upload.href);
	assert.equal(`${completion.origin}${completion.pathname}`, `${world.url}/api/lfs-complete/${object.oid}`);
	assert.equal(completion.searchParams.get("size"), String(size));
	assert.equal(completion.searchParams.get("user"), "alice");
	const parts = partKeys.map((key, i) => {
		const url = new URL(upload.header[key]);
		assert.equal(`${url.origin}${url.pathname}`, `${world.url}/api/lfs-upload/${object.oid}`, `part ${key}'s URL`);
		assert.equal(url.searchParams.get("part"), String(i + 1), `part ${key}'s number`);
		return url.href;
	});
	return { completion: upload.href, parts };
}

/** Part `n` (from 1) of `bytes`. */
const part = (bytes, n) => bytes.subarray((n - 1) * PART, n * PART);

describe("multipart LFS uploads to hubmirror", () => {
	test("uploadFiles sends a 300 MiB file in parts, at once; it reads back with its sha256", { timeout: 120_000 }, async (t) => {
		// The file is written in pieces and given to the client as a path: no copy of it is held.
		const src = work.dir("upload-src");
		await mkdir(src);
		const bigPath = join(src, "model.safetensors");
		const size = 300 * MiB;
		const next = pseudoRandomStream("publish-multipart/client");
		const hash = createHash("sha256");
		const file = createWriteStream(bigPath);
		for (let left = size; left > 0; left -= 4 * MiB) {
			const chunk = next(Math.min(left, 4 * MiB));
			hash.update(chunk);
			if (!file.write(chunk)) await once(file, "drain");
		}
		file.end();
		await once(file, "finish");
		const sha = hash.digest("hex");
		// A small LFS file in the same batch (after the large one, as the client lists them) and a
		// regular file in the commit.
		const tokenizer = pseudoRandomBytes("publish-multipart/tokenizer", 4 * 1024 + 1);
		const config = Buffer.from('{"model_type": "bert"}\n');

		await withTrace(t, async () => {
			// Which part URLs the client sent, how many at once at most, and its completions.
			const parts = [];
			const completions = [];
			let inFlight = 0;
			let mostInFlight = 0;
			const noting = async (input, init) => {
				const url = new URL(input);
				if (init?.method === "PUT" && url.searchParams.has("part")) {
					parts.push(Number(url.searchParams.get("part")));
					mostInFlight = Math.max(mostInFlight, ++inFlight);
					try {
						return await recordingFetch(input, init);
					} finally {
						--inFlight;
					}
				}
				if (init?.method === "POST" && url.pathname.startsWith("/api/lfs-complete/")) completions.push(url.pathname);
				return recordingFetch(input, init);
			};
			const files = [pathToFileURL(bigPath), { path: "tokenizer.bin", content: new Blob([tokenizer]) }, { path: "config.json", content: new Blob([config]) }];
			const before = await headOf(REPO);
			const out = await uploadFiles({ repo: REPO, files, commitTitle: "Add 300 MiB of weights", ...asAlice(), fetch: noting });
			assert.match(out?.commit.oid ?? "", HEX40);
			assert.notEqual(out.commit.oid, before);
			assert.equal(await headOf(REPO), out.commit.oid, "main moved to the new commit");
			assert.deepEqual(parts.sort(), [1, 2, 3], "each of the three parts sent once");
			assert.ok(mostInFlight > 1, `the parts were sent side by side (at most ${mostInFlight} at once)`);
			assert.deepEqual(completions, [`/api/lfs-complete/${sha}`]);

			const listed = {};
			for await (const entry of listFiles({ repo: REPO, recursive: true, ...asAlice() })) if (entry.type === "file") listed[entry.path] = entry;
			const entry = listed["model.safetensors"];
			assert.deepEqual([entry?.lfs?.oid, entry?.lfs?.size, entry?.size], [sha, size, size], `listFiles: ${JSON.stringify(entry)}`);
			assert.equal(entry.oid, gitBlobSha1(Buffer.from(lfsPointer(sha, size))), "the git id is the pointer's");
			assert.deepEqual([listed["tokenizer.bin"]?.lfs?.oid, listed["tokenizer.bin"]?.size], [sha256Hex(tokenizer), tokenizer.length]);
			assert.equal(listed["config.json"]?.oid, gitBlobSha1(config));
			assert.equal(listed["config.json"]?.lfs, undefined, "config.json is a regular file");
			const [info] = await pathsInfo({ repo: REPO, paths: ["model.safetensors"], ...asAlice() });
			assert.deepEqual([info?.lfs?.oid, info?.lfs?.size], [sha, size], `pathsInfo: ${JSON.stringify(info)}`);

			assert.deepEqual(await downloadedDigest("model.safetensors"), { sha256: sha, size }, "the downloaded bytes");
			assert.deepEqual(await downloadedDigest("tokenizer.bin"), { sha256: sha256Hex(tokenizer), size: tokenizer.length });
			assert.deepEqual(await downloadedDigest("config.json"), { sha256: sha256Hex(config), size: config.length });
		});
	});

	test("parts out of order, repeated or of the wrong length; completions wrong, early, forged, then right; a commit", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			const good = pseudoRandomBytes("publish-multipart/good", THREE_PARTS);
			const goodOid = sha256Hex(good);
			// An object whose parts never come but the last: its completion finds parts missing.
			const early = { oid: randomBytes(32).toString("hex"), size: THREE_PARTS };
			const small = { oid: randomBytes(32).toString("hex"), size: 1000 };
			// One batch for all three, as the clients ask for every LFS file of a commit at once.
			const res = await lfsBatch(REPO, world.tokens.alice, [{ oid: goodOid, size: good.length }, early, small]);
			assert.equal(res.status, 200, describeAnswer(res));
			const answer = res.json();
			assert.equal(answer.transfer, "multipart", "some objects got parts");
			assert.deepEqual(answer.objects.map((o) => [o.oid, o.size]), [[goodOid, good.length], [early.oid, early.size], [small.oid, small.size]]);
			const goodUpload = multipartAction(answer.objects[0], good.length);
			const earlyUpload = multipartAction(answer.objects[1], early.size);
			// The small object still goes in one PUT, with no header.
			const single = answer.objects[2].actions?.upload;
			assert.equal(single?.header, undefined, `one PUT for the small object: ${JSON.stringify(answer.objects[2])}`);
			assert.equal(new URL(single.href).pathname, `/api/lfs-upload/${small.oid}`);
			assert.equal(new URL(single.href).searchParams.get("part"), null);

			// A part must carry exactly its bytes: refused on its Content-Length before it is read.
			const tooLong = await putBytes(goodUpload.parts[2], Buffer.concat([part(good, 3), Buffer.from("x")]));
			assert.equal(tooLong.status, 400, describeAnswer(tooLong));
			assert.match(tooLong.json().error, new RegExp(`part 3 must send exactly ${good.length - 2 * PART} bytes`));

			for (const n of [3, 1, 2]) {
				const put = await putBytes(goodUpload.parts[n - 1], part(good, n));
				assert.equal(put.status, 200, `part ${n}: ${describeAnswer(put)}`);
				assert.equal(put.headers.get("etag"), `"part-${n}"`, `part ${n}'s ETag`);
				assert.match(put.headers.get("access-control-expose-headers") ?? "", /\bETag\b/i, `part ${n}: browsers may read the ETag`);
			}
			// A client's retry of a part received already: accepted, its bytes dropped.
			const again = await putBytes(goodUpload.parts[0], part(good, 1));
			assert.equal(again.status, 200, describeAnswer(again));
			assert.equal(again.headers.get("etag"), '"part-1"');

			// Completions that do not name the upload as its part PUTs answered.
			const right = partsOf(goodOid, 3);
			for (const [what, body] of [
				["another oid", { ...right, oid: early.oid }],
				["two parts of three", { ...right, parts: right.parts.slice(0, 2) }],
				["part 2's ETag unquoted", { ...right, parts: right.parts.map((p) => (p.partNumber === 2 ? { ...p, etag: "part-2" } : p)) }],
				["parts in the wrong order", { ...right, parts: [right.parts[1], right.parts[0], right.parts[2]] }],
			]) {
				const refused = await complete(goodUpload.completion, body);
				assert.equal(refused.status, 400, `${what}: ${describeAnswer(refused)}`);
			}
			const forged = new URL(goodUpload.completion);
			forged.searchParams.set("size", String(good.length + 1));
			const forgedAnswer = await complete(forged.href, right);
			assert.equal(forgedAnswer.status, 403, `a completion URL with another size: ${describeAnswer(forgedAnswer)}`);

			// The other upload has only its last part: its completion names the parts missing.
			const last = pseudoRandomBytes("publish-multipart/early-tail", early.size - 2 * PART);
			assert.equal((await putBytes(earlyUpload.parts[2], last)).status, 200);
			const missing = await complete(earlyUpload.completion, partsOf(early.oid, 3));
			assert.deepEqual([missing.status, missing.headers.get("x-error-code")], [409, "Conflict"], describeAnswer(missing));
			assert.match(missing.json().error, /missing parts 1, 2 of 3/);

			const completed = await complete(goodUpload.completion, right);
			assert.equal(completed.status, 200, describeAnswer(completed));
			assert.deepEqual(completed.json(), {});
			assert.match(completed.headers.get("content-type") ?? "", /^application\/vnd\.git-lfs\+json/);
			// A client that retries a completion it got no answer to is told it succeeded.
			const retried = await complete(goodUpload.completion, right);
			assert.equal(retried.status, 200, describeAnswer(retried));
			// Verify (which the Python client calls) finds it stored with its size.
			const verify = await call("POST", answer.objects[0].actions.verify.href, { token: world.tokens.alice, body: JSON.stringify({ oid: goodOid, size: good.length }) });
			assert.equal(verify.status, 200, describeAnswer(verify));

			const before = await headOf(REPO);
			const line = { key: "lfsFile", value: { path: "weights/three-parts.safetensors", algo: "sha256", oid: goodOid, size: good.length } };
			const committed = await commitLines(REPO, world.tokens.alice, { summary: "Add weights sent in parts" }, [line]);
			assert.equal(committed.status, 200, describeAnswer(committed));
			const commitOid = committed.json().commitOid;
			assert.notEqual(commitOid, before);
			assert.equal(await headOf(REPO), commitOid);
			assert.deepEqual(await downloadedDigest("weights/three-parts.safetensors"), { sha256: goodOid, size: good.length });
			// Asked again, the batch API has nothing for alice to send.
			const asked = await lfsBatch(REPO, world.tokens.alice, [{ oid: goodOid, size: good.length }]);
			assert.equal(asked.status, 200, describeAnswer(asked));
			assert.equal(asked.json().objects[0].actions, undefined, asked.text);
		});
	});

	test("parts of the right sizes but the wrong bytes: the completion is 400, nothing is stored or committable", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			const sent = pseudoRandomBytes("publish-multipart/wrong", THREE_PARTS);
			// The announced content differs from what is sent in one byte of the middle part: only
			// the digest of the whole can tell.
			const at = PART + 12345;
			sent[at] ^= 0xff;
			const object = { oid: sha256Hex(sent), size: sent.length };
			sent[at] ^= 0xff;
			assert.notEqual(sha256Hex(sent), object.oid);

			const res = await lfsBatch(REPO, world.tokens.alice, [object]);
			assert.equal(res.status, 200, describeAnswer(res));
			const upload = multipartAction(res.json().objects[0], object.size);
			// In order this time: each part goes straight into the object.
			for (const n of [1, 2, 3]) {
				const put = await putBytes(upload.parts[n - 1], part(sent, n));
				assert.equal(put.status, 200, `part ${n}: ${describeAnswer(put)}`);
				assert.equal(put.headers.get("etag"), `"part-${n}"`);
			}
			const completed = await complete(upload.completion, partsOf(object.oid, 3));
			assert.equal(completed.status, 400, describeAnswer(completed));
			assert.match(completed.json().error, new RegExp(object.oid));
			assert.equal(await access(blobPath(world.data, object.oid)).then(() => "stored", () => "absent"), "absent", "nothing stored under the announced oid");
			assert.equal(await access(blobPath(world.data, sha256Hex(sent))).then(() => "stored", () => "absent"), "absent", "nor under the digest of what was sent");

			const before = await headOf(REPO);
			const line = { key: "lfsFile", value: { path: "weights/wrong.safetensors", algo: "sha256", ...object } };
			const refused = await commitLines(REPO, world.tokens.alice, { summary: "Add wrong weights" }, [line]);
			assert.equal(refused.status, 422, describeAnswer(refused));
			assert.equal(await headOf(REPO), before, "the refused commit changed nothing");
			// The failed upload is over: completing it again cannot store anything either.
			const again = await complete(upload.completion, partsOf(object.oid, 3));
			assert.notEqual(again.status, 200, describeAnswer(again));
			const verify = await call("POST", res.json().objects[0].actions.verify.href, { token: world.tokens.alice, body: JSON.stringify(object) });
			assert.equal(verify.status, 404, describeAnswer(verify));
		});
	});

	test("without \"multipart\" offered, or at one part at most, the batch API answers a single PUT", { timeout: 10_000 }, async (t) => {
		await withTrace(t, async () => {
			const large = { oid: randomBytes(32).toString("hex"), size: THREE_PARTS };
			const onePart = { oid: randomBytes(32).toString("hex"), size: PART };
			for (const [what, objects, transfers] of [
				["basic only", [large], ["basic"]],
				["no transfers named", [large], undefined],
				["an object of exactly one part", [onePart], ["basic", "multipart"]],
			]) {
				const body = JSON.stringify({ operation: "upload", hash_algo: "sha256", objects, ...(transfers ? { transfers } : {}) });
				const res = await call("POST", `/${REPO}.git/info/lfs/objects/batch`, { token: world.tokens.alice, body, contentType: "application/vnd.git-lfs+json" });
				assert.equal(res.status, 200, `${what}: ${describeAnswer(res)}`);
				assert.equal(res.json().transfer, "basic", what);
				const upload = res.json().objects[0].actions?.upload;
				assert.ok(upload?.href, `${what}: an upload action: ${res.text}`);
				assert.equal(upload.header?.chunk_size, undefined, `${what}: no parts`);
				const href = new URL(upload.href);
				assert.equal(`${href.origin}${href.pathname}`, `${world.url}/api/lfs-upload/${objects[0].oid}`, what);
				assert.equal(href.searchParams.get("part"), null, what);
				assert.equal(href.searchParams.get("size"), String(objects[0].size), what);
			}
		});
	});
});
