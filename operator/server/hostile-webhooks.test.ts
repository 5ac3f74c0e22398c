import { afterTheBarrageStories } from './hostile-webhooks/after-the-barrage.js';
import { concurrentConnectionStories } from './hostile-webhooks/concurrent-connections.js';
import { largeBodyStories } from './hostile-webhooks/large-bodies.js';
import { memoryStories } from './hostile-webhooks/memory.js';
import { randomRequestStories } from './hostile-webhooks/random-requests.js';
import { slowClientStories } from './hostile-webhooks/slow-clients.js';
import { startWorld, type World } from './hostile-webhooks/world.js';

/**
 * The webhook endpoint under hostile input, over real sockets: the real HTTP server and the real push path
 * (PushService: receiver index, secret reader, trigger queue, trigger client) over an in-memory API, with a
 * real HTTP server standing in for notification-controller. fast-check generates the requests.
 *
 * Properties: no input gets a 5xx, the server always answers a well-formed request afterwards, nothing is
 * triggered (no queued trigger, no Receiver call, no authenticated result counted) unless the token — and
 * for a signed link the signature — is valid, slow and broken clients are cut off, memory stays bounded,
 * and a valid webhook still triggers exactly once at the end.
 *
 * One world serves the stories in hostile-webhooks/, in the order below: each story reads on its own, and
 * the last one checks the world after all the others have been at it.
 */

describe('hostile webhooks: POST /hooks/<link> over real sockets, real server and push path', function () {
  this.timeout(60_000); // a bound for a loaded machine: the suite takes about 10 s
  let w: World;

  before(async () => {
    w = await startWorld();
  });
  after(async () => {
    await w.stop();
  });
  const world = () => w;

  randomRequestStories(world);
  concurrentConnectionStories(world);
  largeBodyStories(world);
  slowClientStories(world);
  memoryStories(world);
  afterTheBarrageStories(world);
});
