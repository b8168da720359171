// What the end-to-end tests with blobs in a bucket (s3_*.test.mjs in this folder) share: the
// gateway that `tests/support/ceph_rgw.sh start DIR` started (DIR from HUBMIRROR_TEST_S3_DIR), a
// bucket made for the run, requests signed with the gateway's keys as an operator sends them with
// curl, the listing of the blobs under a key prefix, and the `[storage]` table that names them.
//
// The helpers are made by s3Helpers(world, prefix), `world` being the suite's { s3, bucket }: they
// read it when they run, so the set-up may fill it in later.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const MiB = 1024 * 1024;

/** The gateway the s3_server fixture started (endpoint, key, secret): the lines of DIR/env. */
export async function gatewayEnv() {
	const dir = process.env.HUBMIRROR_TEST_S3_DIR;
	if (!dir) throw new Error("HUBMIRROR_TEST_S3_DIR is not set: point it at the DIR of `tests/support/ceph_rgw.sh start DIR`");
	const env = Object.fromEntries(
		(await readFile(join(dir, "env"), "utf8"))
			.split("\n")
			.filter((l) => l.includes("="))
			.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
	);
	for (const name of ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"]) assert.ok(env[name], `${name} in ${dir}/env`);
	return { endpoint: env.S3_ENDPOINT, key: env.S3_ACCESS_KEY, secret: env.S3_SECRET_KEY };
}

/** The helpers bound to `world` ({ s3, bucket }), the blobs being under `${prefix}/blobs/`. */
export function s3Helpers(world, prefix) {
	const blobs = `${prefix}/blobs/`;

	/**
	 * Fills in world.s3 and a new bucket named after `label` in world.bucket, and hands the keys to
	 * every hubmirror started afterwards.
	 */
	async function setUpGateway(label) {
		world.s3 = await gatewayEnv();
		// The gateway outlives one run (the fixture serves every S3 test), so each run has its own bucket.
		world.bucket = `${label}-${process.pid}-${Date.now().toString(36)}`;
		const made = await s3Request("PUT", `/${world.bucket}`);
		assert.equal(made.status, 200, `creating bucket ${world.bucket}: ${made.body.slice(0, 300)}`);
		// Credentials reach hubmirror only through the environment: this process's, which every
		// hubmirror started here inherits (serveHubmirror takes no other), or a test's own.
		process.env.AWS_ACCESS_KEY_ID = world.s3.key;
		process.env.AWS_SECRET_ACCESS_KEY = world.s3.secret;
	}

	/**
	 * One request signed with the gateway's keys, by curl as an operator would send it: `path` on the
	 * endpoint (a bucket, an object, a query), `dataFile` the body of a PUT; { status, body }.
	 */
	function s3Request(method, path, { dataFile } = {}) {
		const { endpoint, key, secret } = world.s3;
		const args = ["-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${key}:${secret}`, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"];
		args.push("-X", method, "-w", "\n%{http_code}", ...(dataFile ? ["--data-binary", `@${dataFile}`] : []), endpoint + path);
		return new Promise((resolve, reject) => {
			execFile("curl", args, { maxBuffer: 4 * MiB }, (err, stdout, stderr) => {
				if (err) return reject(new Error(`curl ${method} ${path}: ${stderr || err.message}`));
				const end = stdout.lastIndexOf("\n");
				resolve({ status: Number(stdout.slice(end + 1)), body: stdout.slice(0, end) });
			});
		});
	}

	/** The objects under `${prefix}/blobs/`, sorted by key: { key, size, etag, lastModified }. */
	async function listBlobObjects() {
		// The query's parameters in alphabetical order, as SigV4's canonical request has them.
		const res = await s3Request("GET", `/${world.bucket}?list-type=2&prefix=${encodeURIComponent(blobs)}`);
		assert.equal(res.status, 200, `listing ${world.bucket}: ${res.body.slice(0, 300)}`);
		assert.match(res.body, /<IsTruncated>false<\/IsTruncated>/, "one page lists them all");
		const field = (xml, name) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
		return [...res.body.matchAll(/<Contents>(.*?)<\/Contents>/gs)]
			.map(([, xml]) => ({
				key: field(xml, "Key"),
				size: Number(field(xml, "Size")),
				etag: field(xml, "ETag")?.replaceAll("&quot;", '"'),
				lastModified: field(xml, "LastModified"),
			}))
			.sort((a, b) => (a.key < b.key ? -1 : 1));
	}

	/** The `[storage]` table naming the bucket and the prefix; `extra` lines added. Never any credential. */
	function storageConfig(extra = "") {
		return `[storage]\nbackend = "s3"\ns3_endpoint = ${JSON.stringify(world.s3.endpoint)}\ns3_bucket = ${JSON.stringify(world.bucket)}\ns3_prefix = ${JSON.stringify(prefix)}\n${extra}`;
	}

	return { blobs, listBlobObjects, s3Request, setUpGateway, storageConfig };
}
