import assert from "node:assert/strict";
import {
  decodeListedKey,
  deleteErrors,
  deleteObjectsXml,
  S3HttpError,
  xmlCanCarry,
} from "./s3_http.ts";

const keyOf = (xml: string) => /<Object><Key>([^<]*)<\/Key><\/Object>/.exec(xml)?.[1];

Deno.test("deleteObjectsXml() writes CR, LF and TAB as character references", () => {
  assert.equal(keyOf(deleteObjectsXml(["Icon\r"])), "Icon&#13;");
  assert.equal(keyOf(deleteObjectsXml(["a\r\nb\tc"])), "a&#13;&#10;b&#9;c");
  assert.equal(
    keyOf(deleteObjectsXml(["nel\u0085 ls\u2028 del\u007f"])),
    "nel&#133; ls&#8232; del&#127;",
  );
});

Deno.test("deleteObjectsXml() escapes markup and keeps spaces and other text as they are", () => {
  assert.equal(keyOf(deleteObjectsXml([`a&b<c>d"e'f`])), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  assert.equal(keyOf(deleteObjectsXml([" ünï ✓/😀 "])), " ünï ✓/😀 ");
  const xml = deleteObjectsXml(["a", "b"]);
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?><Delete><Quiet>true<\/Quiet>/);
  assert.match(xml, /<Object><Key>a<\/Key><\/Object><Object><Key>b<\/Key><\/Object><\/Delete>$/);
});

Deno.test("deleteObjectsXml() refuses a key XML cannot carry instead of sending it", () => {
  assert.throws(() => deleteObjectsXml(["ok", "ctl\u0001"]), RangeError);
});

Deno.test("xmlCanCarry() refuses exactly the characters XML 1.0 has no way to write", () => {
  for (const key of ["plain", "Icon\r", "Icon\n", "tab\there", "\u0085\u2028", "\uFFFD", "😀"]) {
    assert.ok(xmlCanCarry(key), JSON.stringify(key));
  }
  const refused = ["\u0000", "\u0001", "\u0008", "\u000B", "\u000C", "\u000E", "\u001F"];
  for (const key of [...refused, "\uFFFE", "\uFFFF", "lone\uD800", "\uDC00lone"]) {
    assert.ok(!xmlCanCarry(`k${key}`), JSON.stringify(key));
  }
});

Deno.test("deleteErrors() maps each error back to the exact key that was sent", () => {
  const text = `<?xml version="1.0" encoding="UTF-8"?><DeleteResult>` +
    `<Error><Key>Icon&#x0d;</Key><Code>AccessDenied</Code><Message>Denied</Message></Error>` +
    `<Error><Key>a&amp;b\tc\n</Key><Code>InternalError</Code><Message></Message></Error>` +
    `</DeleteResult>`;
  const failed = deleteErrors(text, ["Icon\r", "Icon\n", "a&b\tc\n"]);
  assert.deepEqual([...failed], [
    ["Icon\r", "Denied (AccessDenied)"],
    ["a&b\tc\n", "InternalError"],
  ]);
  assert.deepEqual([...deleteErrors(`<DeleteResult></DeleteResult>`, ["a"])], []);
});

Deno.test("deleteErrors() fails the batch when an error names a key that was not sent", () => {
  // The server read "Icon\r" as "Icon\n": which of ours failed is unknown.
  const text =
    `<DeleteResult><Error><Key>Icon\n</Key><Code>AccessDenied</Code></Error></DeleteResult>`;
  assert.throws(() => deleteErrors(text, ["Icon\r"]), S3HttpError);
});

Deno.test("decodeListedKey() reads RGW's and AWS's URL encodings alike", () => {
  // RGW: a space is %20, "/" is %2F; AWS: a space is "+". Both send "+" as %2B.
  assert.equal(decodeListedKey("a%2Fb%20c%2Bd"), "a/b c+d");
  assert.equal(decodeListedKey("a/b+c%2Bd"), "a/b c+d");
  assert.equal(decodeListedKey("Icon%0D"), "Icon\r");
  assert.equal(decodeListedKey("ctl%01x%25%7E~*!'()"), "ctl\u0001x%~~*!'()");
  assert.equal(decodeListedKey("%C3%BCn%C3%AF%20%E2%9C%93"), "ünï ✓");
  assert.throws(() => decodeListedKey("bad%FF"), URIError);
});
