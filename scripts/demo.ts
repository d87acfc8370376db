// deno-lint-ignore-file no-console -- a command-line tool that talks to its user
/**
 * `deno task demo`: starts the local test S3 server, creates a bucket, writes a config for the
 * `demo/` folder, and runs the daemon in the foreground. Drop a file into `demo/` and watch the
 * log say it was uploaded. Ctrl-C stops the daemon and the server.
 * @module
 */

import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { stringify } from "yaml";
import { provideS3 } from "./s3env.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const folder = `${root}/demo`;
const configPath = `${folder}.config.yml`;
const bucket = "s3sync-demo";

const s3 = await provideS3();
try {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err) => {
    if (err?.name !== "BucketAlreadyOwnedByYou") throw err;
  });
  await Deno.mkdir(folder, { recursive: true });
  await Deno.writeTextFile(`${folder}/hello.txt`, "Hello from s3sync-service!\n");
  await Deno.writeTextFile(
    configPath,
    "# Written by `deno task demo`: the local test server's keys, and the demo/ folder.\n" +
      stringify({
        access_key: s3.accessKey,
        secret_access_key: s3.secretKey,
        aws_region: s3.region,
        sites: [{
          name: "demo",
          local_path: folder,
          bucket,
          endpoint: s3.endpoint,
          retire_deleted: true,
        }],
      }),
  );
  console.log(`
  S3 server:   ${s3.endpoint} (bucket "${bucket}")
  Config:      ${configPath}
  Synced dir:  ${folder}

  Drop files into demo/ (in another terminal: echo hi > demo/new.txt) and watch them being
  uploaded below. To list the bucket with the AWS CLI:
    AWS_ACCESS_KEY_ID=${s3.accessKey} AWS_SECRET_ACCESS_KEY=${s3.secretKey} \\
      aws --endpoint-url ${s3.endpoint} s3 ls s3://${bucket} --recursive
  Status: curl localhost:8090/info    Stop: Ctrl-C
`);
  const daemon = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${root}/main.ts`, "--config", configPath],
    stdin: "null",
  }).spawn();
  // Ctrl-C reaches the daemon too (same process group); wait for it to finish its work.
  Deno.addSignalListener("SIGINT", () => {});
  Deno.addSignalListener("SIGTERM", () => daemon.kill("SIGTERM"));
  await daemon.status;
} finally {
  await s3.stop();
}
