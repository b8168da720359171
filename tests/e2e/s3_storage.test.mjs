// End-to-end test of hubmirror keeping its blobs in S3-compatible object storage (README: Blobs in
// S3-compatible object storage), on a real Ceph RADOS Gateway and a bucket made for this run, with
// `@huggingface/hub` as the client:
//  - `hubmirror import --config` of a card, a config and 40 MiB of weights: the bucket then holds
//    one object per distinct content under the prefix, named by its sha256, the weights sent in
//    parts of 8 MiB;
//  - the data dir's local copies removed, `hubmirror serve --config` sends every file
//    (downloadFile, snapshotDownload) and a Range of the weights, fetched from the bucket;
//  - `verify` and `gc --dry-run` with the config; credentials from s3_credentials_file with none
//    in the environment;
//  - refusals: the data dir used without its config (exit 2, naming the bucket), a wrong secret
//    (naming the bucket, nothing published); no secret in any output, serve's included;
//  - `serve = "redirect"` (a second server on the same data dir): GET and HEAD of an LFS file answer
//    302 with the Hub's headers and a presigned URL of its object, which the gateway honours with
//    no credentials (a Range too) and refuses once tampered with; downloadFile and
//    snapshotDownload with a token get every file, the small ones sent by the server itself;
//  - an object overwritten in the bucket with other bytes: serve refuses the file (503
//    BlobUnavailable) and caches nothing, and verify reports the blob.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror HUBMIRROR_TEST_S3_DIR=DIR node --test s3_storage.test.mjs
// where DIR is that of `tests/support/ceph_rgw.sh start DIR`, whose `env` file names the gateway's
// endpoint and keys. Needs curl (the bucket is made, listed and damaged with it).
//
// Everything happens on 127.0.0.1; the hubmirror side in a fresh temporary directory that is
// removed afterwards.

import assert from "node:assert/strict";
import { access, chmod, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";

import { downloadFile, snapshotDownload } from "@huggingface/hub";

import {
	BIN,
	blobPath,
	createMirrorToken,
	pseudoRandomBytes,
	runLogged,
	serveHubmirror,
	sha256Hex,
	useWorkRoot,
	writeSource,
} from "../support/harness.mjs";
import { recordingFetch, snapshotFiles, withTrace } from "./fixture.mjs";
import { s3Helpers } from "./s3_support.mjs";

const REPO = "acme/s3-model";
const MiB = 1024 * 1024;
/** Over the 8 MiB of one PUT, so it goes in parts: five whole ones and a short sixth, of an odd size. */
const WEIGHTS = pseudoRandomBytes("s3/weights", 40 * MiB + 7);
const FILES = {
	"README.md": Buffer.from("---\nlicense: apache-2.0\n---\n\n# s3-model\n\nBlobs kept in a bucket.\n"),
	"config.json": Buffer.from(JSON.stringify({ model_type: "bert", hidden_size: 64 }, null, 2) + "\n"),
	"model.safetensors": WEIGHTS,
};
/** The key prefix of the config; hubmirror adds the '/' itself. */
const PREFIX = "hm";
const WRONG_SECRET = "wrong-secret-xyz";

/**
 * The gateway (endpoint, key, secret), the bucket, the data dir, the configs, the commit imported,
 * the server and its URL, and the second server, which redirects.
 */
const world = { s3: {}, bucket: "", data: "", src: "", config: "", commit: "", server: undefined, url: "", redirecting: undefined };

const { blobs: BLOBS, listBlobObjects, s3Request, setUpGateway, storageConfig } = s3Helpers(world, PREFIX);

/** The objects the import must have left: one per distinct content, named by its sha256. */
function expectedObjects() {
	const bySha = new Map(Object.values(FILES).map((content) => [sha256Hex(content), content.length]));
	return [...bySha].map(([sha, size]) => ({ key: BLOBS + sha, size })).sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** Checks that a run printed neither the gateway's secret nor the wrong one some tests send. */
function assertNoSecret(run, what) {
	for (const secret of [world.s3.secret, WRONG_SECRET]) {
		assert.ok(!(run.stdout + run.stderr).includes(secret), `${what} printed a secret key`);
	}
}

/** `hubmirror ARGS...` run to the end with `env` on top of this process's; checked for secrets. */
async function hm(t, args, env = {}) {
	const run = await runLogged(t, args, { env, timeoutMs: 60_000 });
	assertNoSecret(run, `hubmirror ${args[0]}`);
	return run;
}

/** The `verified ...` summary of a verify run that found `corrupt` and `missing` problems. */
const verifiedLine = (corrupt, missing) =>
	new RegExp(`^verified ${Object.keys(FILES).length} blobs \\(\\d+ bytes\\) in [\\d.]+ s, [\\d.]+ MiB/s: ${corrupt} corrupt, ${missing} missing$`, "m");

const resolveUrl = (path, url = world.url) => `${url}/${REPO}/resolve/main/${path}`;

/** How long a redirect's presigned URL stays valid, in seconds (README: serve = "redirect"). */
const PRESIGNED_SECONDS = 3600;

/**
 * `method` of an LFS file on the redirecting server, not followed: checks the 302 and its headers
 * (those the Hub puts on its own 302) and returns the Location.
 */
async function redirectOf(path, method = "GET") {
	const res = await fetch(resolveUrl(path, world.redirecting.url), { method, redirect: "manual" });
	const body = await res.text();
	assert.equal(res.status, 302, `${method} ${path} on the redirecting server: ${body.slice(0, 300)}`);
	const sha = sha256Hex(FILES[path]);
	assert.equal(res.headers.get("x-repo-commit"), world.commit, `${method} ${path}: X-Repo-Commit`);
	assert.equal(res.headers.get("etag"), `"${sha}"`, `${method} ${path}: ETag`);
	assert.equal(res.headers.get("x-linked-etag"), `"${sha}"`, `${method} ${path}: X-Linked-Etag`);
	assert.equal(res.headers.get("x-linked-size"), String(FILES[path].length), `${method} ${path}: X-Linked-Size`);
	const location = res.headers.get("location") ?? "";
	assert.ok(location.startsWith(`${world.s3.endpoint}/`), `${method} ${path}: Location on the gateway: ${location}`);
	// Path-style: the object of the blob itself, signed in the query (SigV4), for the hour.
	const url = new URL(location);
	assert.equal(url.pathname, `/${world.bucket}/${BLOBS}${sha}`, `${method} ${path}: the object the Location names`);
	assert.match(location, /[?&]X-Amz-Signature=[0-9a-f]{64}(&|$)/, `${method} ${path}: a signature in the Location`);
	assert.equal(url.searchParams.get("X-Amz-Expires"), String(PRESIGNED_SECONDS), `${method} ${path}: X-Amz-Expires`);
	// The access key id is in a presigned URL by design; the secret never is.
	assert.ok(url.searchParams.get("X-Amz-Credential")?.startsWith(`${world.s3.key}/`), `${method} ${path}: X-Amz-Credential`);
	assert.ok(!location.includes(world.s3.secret), `${method} ${path}: the Location holds the secret key`);
	return location;
}

const work = useWorkRoot("hubmirror-e2e-s3-", {
	timeout: 60_000,
	async setup(root) {
		await setUpGateway("hm-e2e");
		world.config = root.dir("hubmirror.toml");
		await writeFile(world.config, storageConfig());
		world.src = root.dir("src");
		await writeSource(world.src, Object.entries(FILES));
		world.data = root.dir("data");
	},
	async teardown() {
		await world.server?.stop();
		await world.redirecting?.stop();
	},
});

describe("hubmirror with its blobs in a bucket of a Ceph RADOS Gateway", () => {
	test("import uploads one object per distinct content, named by its sha256, the weights in parts", { timeout: 60_000 }, async (t) => {
		const run = await hm(t, ["import", "--config", world.config, "--data", world.data, "--repo", REPO, world.src]);
		assert.equal(run.code, 0, `hubmirror import (exit ${run.code}): ${run.stderr}`);
		const commit = /as commit ([0-9a-f]{40})$/m.exec(run.stdout);
		assert.ok(commit, `no commit id in: ${run.stdout}`);
		world.commit = commit[1];

		const objects = await listBlobObjects();
		assert.deepEqual(
			objects.map(({ key, size }) => ({ key, size })),
			expectedObjects(),
			"the bucket's blobs",
		);
		// A multipart upload's ETag ends in "-<number of parts>": five of 8 MiB and the rest.
		const weights = objects.find((o) => o.key === BLOBS + sha256Hex(WEIGHTS));
		assert.match(weights.etag, /-6"$/, `the weights' ETag ${weights.etag}: sent in six parts`);
	});

	test("with the local copies gone, serve sends every file and a Range from the bucket", { timeout: 60_000 }, async (t) => {
		await rm(join(world.data, "blobs"), { recursive: true, force: true });
		// The whole of serve's stderr is kept: the last test looks for secrets in it.
		world.server = await serveHubmirror(BIN, world.data, { args: ["--config", world.config], keepStderr: 1_000_000 });
		world.url = world.server.url;
		await withTrace(t, async () => {
			for (const [path, content] of Object.entries(FILES)) {
				const blob = await downloadFile({ repo: REPO, path, hubUrl: world.url, fetch: recordingFetch });
				assert.ok(blob, `${path}: downloadFile found nothing`);
				assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), sha256Hex(content), `${path}: sha256 of downloadFile`);
			}

			const folder = await snapshotDownload({ repo: REPO, cacheDir: work.dir("cache"), hubUrl: world.url, fetch: recordingFetch });
			const onDisk = await snapshotFiles(folder);
			assert.deepEqual(onDisk.sort(), Object.keys(FILES).sort(), "the snapshot's files");
			for (const path of onDisk) {
				assert.equal(sha256Hex(await readFile(join(folder, path))), sha256Hex(FILES[path]), `${path}: sha256 in the snapshot`);
			}

			const ranged = await recordingFetch(resolveUrl("model.safetensors"), { headers: { Range: "bytes=10-99" } });
			const slice = Buffer.from(await ranged.arrayBuffer());
			assert.equal(ranged.status, 206, "a Range of the weights");
			assert.equal(ranged.headers.get("content-range"), `bytes 10-99/${WEIGHTS.length}`);
			assert.ok(slice.equals(WEIGHTS.subarray(10, 100)), `bytes 10-99 of the weights (got ${slice.length} bytes)`);
		});
	});

	test("verify and gc --dry-run with the config find everything intact and nothing to free", { timeout: 60_000 }, async (t) => {
		const verify = await hm(t, ["verify", "--config", world.config, "--data", world.data]);
		assert.equal(verify.code, 0, `hubmirror verify (exit ${verify.code}): ${verify.stderr}`);
		assert.match(verify.stdout, verifiedLine(0, 0));

		const gc = await hm(t, ["gc", "--config", world.config, "--data", world.data, "--dry-run"]);
		assert.equal(gc.code, 0, `hubmirror gc --dry-run (exit ${gc.code}): ${gc.stderr}`);
		assert.equal(gc.stdout.trimEnd().split("\n").at(-1), "would free 0 blobs, 0 bytes", "every blob is in use");
		assert.deepEqual((await listBlobObjects()).map(({ key, size }) => ({ key, size })), expectedObjects(), "the bucket after gc --dry-run");
	});

	test("s3_credentials_file stands in for the environment", { timeout: 60_000 }, async (t) => {
		const credentials = work.dir("s3.env");
		await writeFile(credentials, `AWS_ACCESS_KEY_ID=${world.s3.key}\nAWS_SECRET_ACCESS_KEY=${world.s3.secret}\n`, { mode: 0o600 });
		await chmod(credentials, 0o600); // whatever the umask
		const config = work.dir("hubmirror-credentials-file.toml");
		await writeFile(config, storageConfig(`s3_credentials_file = ${JSON.stringify(credentials)}\n`));
		// undefined removes a variable from the child's environment.
		const noEnv = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };

		const verify = await hm(t, ["verify", "--config", config, "--data", world.data], noEnv);
		assert.equal(verify.code, 0, `hubmirror verify with the credentials file (exit ${verify.code}): ${verify.stderr}`);
		assert.match(verify.stdout, verifiedLine(0, 0));
		// Without the file, the same environment has no credentials at all: the file was what worked.
		const without = await hm(t, ["verify", "--config", world.config, "--data", world.data], noEnv);
		assert.equal(without.code, 2, `hubmirror verify with no credentials (exit ${without.code}): ${without.stderr}`);
		assert.match(without.stderr, /AWS_ACCESS_KEY_ID/);
	});

	test("refusals: the data dir without its config, a wrong secret; nothing published", { timeout: 60_000 }, async (t) => {
		const bare = await hm(t, ["verify", "--data", world.data]);
		assert.equal(bare.code, 2, `hubmirror verify without --config (exit ${bare.code}): ${bare.stderr}`);
		assert.equal(bare.stdout, "", "nothing verified");
		const lines = bare.stderr.trimEnd().split("\n");
		assert.equal(lines.length, 1, `one line: ${bare.stderr}`);
		assert.ok(lines[0].includes(world.bucket), `the refusal names the bucket ${world.bucket}: ${lines[0]}`);

		const wrong = await hm(t, ["import", "--config", world.config, "--data", world.data, "--repo", "acme/s3-refused", world.src], {
			AWS_SECRET_ACCESS_KEY: WRONG_SECRET,
		});
		assert.notEqual(wrong.code, 0, "import with a wrong secret");
		assert.ok(wrong.stderr.includes(world.bucket), `the error names the bucket ${world.bucket}: ${wrong.stderr}`);
		assert.match(wrong.stderr, /SignatureDoesNotMatch/, "the error names S3's code");
		const refused = await fetch(`${world.url}/api/models/acme/s3-refused`);
		assert.equal(refused.status, 404, "the refused import made no repo");
		assert.deepEqual((await listBlobObjects()).map(({ key, size }) => ({ key, size })), expectedObjects(), "the bucket after the refusal");
	});

	// The redirect tests come before the damage below, which spoils config.json's object; the
	// weights' object stays intact throughout.
	test('serve = "redirect" answers GET and HEAD of an LFS file with a 302 to a presigned URL of its object', { timeout: 60_000 }, async () => {
		const config = work.dir("hubmirror-redirect.toml");
		await writeFile(config, storageConfig('serve = "redirect"\n'));
		// A second server on the same data dir and bucket; its whole stderr is kept for the last test.
		world.redirecting = await serveHubmirror(BIN, world.data, { args: ["--config", config], keepStderr: 1_000_000 });
		const weights = "model.safetensors";

		const location = await redirectOf(weights, "GET");
		// Followed as a client does once it has dropped its token: no credentials but the URL's own.
		const whole = await fetch(location);
		const bytes = Buffer.from(await whole.arrayBuffer());
		assert.equal(whole.status, 200, `GET of the Location: ${bytes.subarray(0, 300)}`);
		assert.equal(bytes.length, WEIGHTS.length, "the size the gateway sent");
		assert.equal(sha256Hex(bytes), sha256Hex(WEIGHTS), "sha256 of the weights from the gateway");

		const ranged = await fetch(location, { headers: { Range: "bytes=10-99" } });
		const slice = Buffer.from(await ranged.arrayBuffer());
		assert.equal(ranged.status, 206, "a Range of the Location");
		assert.equal(ranged.headers.get("content-range"), `bytes 10-99/${WEIGHTS.length}`);
		assert.ok(slice.equals(WEIGHTS.subarray(10, 100)), `bytes 10-99 of the weights (got ${slice.length} bytes)`);

		// HEAD gets the same 302; clients that want more then GET its Location with bytes=0-0 (hf-hub).
		const headLocation = await redirectOf(weights, "HEAD");
		const first = await fetch(headLocation, { headers: { Range: "bytes=0-0" } });
		const firstByte = Buffer.from(await first.arrayBuffer());
		assert.equal(first.status, 206, "bytes=0-0 of the HEAD's Location");
		assert.equal(first.headers.get("content-range"), `bytes 0-0/${WEIGHTS.length}`);
		assert.ok(firstByte.equals(WEIGHTS.subarray(0, 1)), "the first byte of the weights");
	});

	test("the gateway refuses a presigned URL whose signature or object was changed", { timeout: 60_000 }, async () => {
		const location = await redirectOf("model.safetensors");
		const intact = await fetch(location, { headers: { Range: "bytes=0-0" } });
		await intact.arrayBuffer();
		assert.equal(intact.status, 206, "the untouched Location, so that the refusals below are the changes'");

		const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(location)[1];
		const flipped = (signature[0] === "0" ? "1" : "0") + signature.slice(1);
		const tampered = {
			"one hex digit of the signature flipped": location.replace(`X-Amz-Signature=${signature}`, `X-Amz-Signature=${flipped}`),
			// Another object of the same bucket, which the same key may read: the signature covers the path.
			"another blob's key": location.replace(sha256Hex(WEIGHTS), sha256Hex(FILES["README.md"])),
		};
		for (const [what, url] of Object.entries(tampered)) {
			assert.notEqual(url, location, `${what}: the URL changed`);
			const res = await fetch(url);
			const body = await res.text();
			assert.equal(res.status, 403, `${what}: ${body.slice(0, 300)}`);
			assert.match(body, /SignatureDoesNotMatch/, `${what}: S3's code`);
		}
	});

	test("through the redirecting server, downloadFile and snapshotDownload with a token get every file", { timeout: 60_000 }, async (t) => {
		// A real client sends its token to the server; fetch drops it on the 302 to another origin,
		// where the presigned URL alone must do (an Authorization there too would be refused).
		const accessToken = await createMirrorToken(BIN, world.data, "s3-reader");
		const hubUrl = world.redirecting.url;
		/** The URL each response finally came from. */
		const answeredBy = [];
		const tracingFetch = async (input, init) => {
			const res = await recordingFetch(input, init);
			answeredBy.push(res.url);
			return res;
		};
		const fromGateway = () => answeredBy.filter((url) => url.startsWith(`${world.s3.endpoint}/`));

		await withTrace(t, async () => {
			for (const [path, content] of Object.entries(FILES)) {
				answeredBy.length = 0;
				const blob = await downloadFile({ repo: REPO, path, hubUrl, accessToken, fetch: tracingFetch });
				assert.ok(blob, `${path}: downloadFile found nothing`);
				assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), sha256Hex(content), `${path}: sha256 of downloadFile`);
				const lfs = path.endsWith(".safetensors");
				assert.equal(fromGateway().length > 0, lfs, `${path}: ${lfs ? "fetched from the gateway" : "sent by the server"}: ${answeredBy.join(", ")}`);
			}

			answeredBy.length = 0;
			const folder = await snapshotDownload({ repo: REPO, cacheDir: work.dir("cache-redirect"), hubUrl, accessToken, fetch: tracingFetch });
			const onDisk = await snapshotFiles(folder);
			assert.deepEqual(onDisk.sort(), Object.keys(FILES).sort(), "the snapshot's files");
			for (const path of onDisk) {
				assert.equal(sha256Hex(await readFile(join(folder, path))), sha256Hex(FILES[path]), `${path}: sha256 in the snapshot`);
			}
			assert.ok(fromGateway().length > 0, `the snapshot's weights came from the gateway: ${answeredBy.join(", ")}`);
		});

		// The small files are git-stored, not in LFS: the redirecting server sends them itself.
		for (const path of ["README.md", "config.json"]) {
			const res = await fetch(resolveUrl(path, hubUrl), { redirect: "manual", headers: { Authorization: `Bearer ${accessToken}` } });
			const body = Buffer.from(await res.arrayBuffer());
			assert.equal(res.status, 200, `GET ${path} on the redirecting server`);
			assert.equal(res.headers.get("location"), null, `${path}: no Location`);
			assert.equal(sha256Hex(body), sha256Hex(FILES[path]), `${path}: sha256 from the redirecting server`);
		}
	});

	test("an object overwritten in the bucket is refused by serve, never cached, and reported by verify", { timeout: 60_000 }, async (t) => {
		const sha = sha256Hex(FILES["config.json"]);
		const damaged = Buffer.from('{"model_type": "damaged in the bucket"}\n');
		const damagedFile = work.dir("damaged.json");
		await writeFile(damagedFile, damaged);
		const put = await s3Request("PUT", `/${world.bucket}/${BLOBS}${sha}`, { dataFile: damagedFile });
		assert.equal(put.status, 200, `overwriting ${BLOBS}${sha}: ${put.body.slice(0, 300)}`);
		// The download above left a local copy, which serve would send without asking the bucket.
		await rm(blobPath(world.data, sha), { force: true });

		const answer = await fetch(resolveUrl("config.json"));
		const body = await answer.text();
		assert.equal(answer.status, 503, `GET config.json: ${body.slice(0, 300)}`);
		assert.equal(answer.headers.get("x-error-code"), "BlobUnavailable");
		assert.ok(!body.includes("damaged in the bucket"), `the damaged bytes were sent: ${body.slice(0, 300)}`);
		assert.ok(body.includes(sha256Hex(damaged)), `the error names the digest the object has: ${body.slice(0, 300)}`);
		await assert.rejects(access(blobPath(world.data, sha)), { code: "ENOENT" }, "the damaged object was cached");

		const verify = await hm(t, ["verify", "--config", world.config, "--data", world.data]);
		assert.equal(verify.code, 1, `hubmirror verify on the damaged bucket (exit ${verify.code})`);
		const said = verify.stdout + verify.stderr;
		assert.ok(said.includes(sha) && said.includes(sha256Hex(damaged)), `verify names the blob and the digest found:\n${said}`);
		// It reads the object itself, not a local copy, reports it like any corrupt blob and moves
		// it aside in the bucket.
		assert.match(verify.stdout, verifiedLine(1, 0));
		const listed = await s3Request("GET", `/${world.bucket}?list-type=2&prefix=${encodeURIComponent("hm/")}`);
		assert.ok(!listed.body.includes(`<Key>${BLOBS}${sha}</Key>`), "the damaged object is still under its digest's name");
		assert.match(listed.body, new RegExp(`<Key>hm/quarantine/${sha}\\.\\d+</Key>`), "the damaged object was not quarantined");

		const again = await fetch(resolveUrl("config.json"));
		assert.equal(again.status, 503, `GET config.json after verify: ${(await again.text()).slice(0, 300)}`);
	});

	test("serve printed no secret from start to stop, redirecting or not", { timeout: 20_000 }, async () => {
		for (const [what, server] of [
			["hubmirror serve", world.server],
			['hubmirror serve with serve = "redirect"', world.redirecting],
		]) {
			assert.ok(server, `${what} ran`);
			await server.stop();
			const stderr = server.stderr();
			assert.match(stderr, /serving/, `${what}: its stderr was kept`);
			assertNoSecret({ stdout: "", stderr }, what);
		}
	});
});
