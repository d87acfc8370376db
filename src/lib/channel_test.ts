import assert from "node:assert/strict";
import { Channel, ChannelClosedError } from "./channel.ts";

Deno.test("Channel delivers buffered values in order, then ends once closed", async () => {
  const channel = new Channel<number>(3);
  await channel.send(1);
  await channel.send(2);
  channel.close();
  const seen: number[] = [];
  for await (const value of channel) seen.push(value);
  assert.deepEqual(seen, [1, 2]);
});

Deno.test("Channel.send() waits while the buffer is full", async () => {
  const channel = new Channel<string>(1);
  await channel.send("a");
  let sent = false;
  const pending = channel.send("b").then(() => sent = true);
  await Promise.resolve();
  assert.equal(sent, false);
  assert.equal(channel.size, 2);
  assert.deepEqual(await channel.receive(), { value: "a", done: false });
  await pending;
  assert.equal(sent, true);
  assert.deepEqual(await channel.receive(), { value: "b", done: false });
});

Deno.test("Channel with capacity 0 hands each value straight to a receiver", async () => {
  const channel = new Channel<number>(0);
  const received = channel.receive();
  await channel.send(7);
  assert.deepEqual(await received, { value: 7, done: false });
});

Deno.test("Channel.send() rejects on abort and leaves the channel usable", async () => {
  const channel = new Channel<number>(0);
  const controller = new AbortController();
  const pending = channel.send(1, { signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  assert.equal(channel.size, 0);
  channel.close();
  assert.deepEqual(await channel.receive(), { value: undefined, done: true });
});

Deno.test("Channel.send() after close() fails, values already waiting are still delivered", async () => {
  const channel = new Channel<number>(0);
  const waiting = channel.send(1);
  channel.close();
  await assert.rejects(channel.send(2), ChannelClosedError);
  assert.deepEqual(await channel.receive(), { value: 1, done: false });
  await waiting;
  assert.deepEqual(await channel.receive(), { value: undefined, done: true });
});
