// JSON endpoints for the page's scripts and for scripts of the school's own (signed in, see
// auth.ts: GET /api/session for a CSRF token, POST /api/login), and the live stream.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebContext } from './context';
import { requestScope, requestSqlScope } from './scope';
import { formatPageKey, PAGE_SIZES, phonesInPage } from '../records/phones-in-list';
import { queryText, requestedPlace } from './phones-in-view';
import { DEMO_STATION_ID } from '../demo/demo-school';

/** How often an open stream checks that its session still stands (and keeps proxies from closing it). */
const STREAM_CHECK_MS = 15_000;

export function registerApi(app: FastifyInstance, context: WebContext): void {
  const { records, ingest, link, demo } = context;
  /** The simulated station is the deployment's own school's: another school's account neither sees nor taps it (issue 16). */
  const demoFor = async (request: FastifyRequest) => (demo && (await (await requestSqlScope(context, request)).hasStation(records.db, DEMO_STATION_ID)) ? demo : null);

  // Both name pupils: each read is audited, as a page view is.
  app.get('/api/lockers', { config: { permission: 'lockers.view' } }, async (request) => {
    await context.audit(request, 'web.viewed', { details: { page: '/api/lockers' } });
    // doorOpen: from the station's latest state report (null before one has come).
    // The account's schools' stations by SQL condition (a trust account's whole list is its 80,000 lockers).
    const lockers = await records.custody.lockers(await requestSqlScope(context, request));
    return { lockers: lockers.map((locker) => ({ ...locker, doorOpen: link?.states.get(locker.stationId)?.doorsOpen?.includes(locker.locker) ?? null })) };
  });
  // The phones in lockers a page at a time, oldest first (issue 16: a trust has 50,000): `limit`
  // (100, at most 500), `after` / `before` (a page's `next` / `previous`), `form`, `q`, `school`.
  app.get('/api/custody', { config: { permission: 'lockers.view' } }, async (request) => {
    await context.audit(request, 'web.viewed', { details: { page: '/api/custody' } });
    const scope = await requestSqlScope(context, request);
    const limit = Number(queryText(request, 'limit') || PAGE_SIZES.default);
    const page = await phonesInPage(records.db, { scope, form: queryText(request, 'form'), search: queryText(request, 'q'), heldLockers: 'leave-out' }, { ...requestedPlace(request), size: Number.isFinite(limit) ? limit : PAGE_SIZES.default });
    return {
      phonesIn: page.rows.map((row) => ({ custodyId: row.custodyId, personId: row.personId, personName: row.personName, form: row.form, stationId: row.stationId, locker: row.locker, depositedAt: row.depositedAt })),
      total: page.total,
      next: page.next && formatPageKey(page.next),
      previous: page.previous && formatPageKey(page.previous),
    };
  });
  app.get('/api/stations', { config: { permission: 'stations.view' } }, async (request) => ({
    stations: (await records.stations.list(await requestSqlScope(context, request))).map((station) => {
      const state = link?.states.get(station.id);
      return {
        id: station.id,
        lockers: Number(station.lockers),
        status: state ? (state.online ? 'online' : 'offline') : station.status,
        lastSeen: station.last_seen,
        firmware: state?.firmware ?? null,
        journalBacklog: state?.journalBacklog ?? null,
        memory: state?.memory ?? null,
        reader: state?.reader ?? null,
        badgeList: context.badges?.status(station.id) ?? null,
      };
    }),
  }));

  // Frames the ingest refused since the hub started (the last 1000, newest first), and frames that
  // came again after they were stored: station, reason, time, size.
  // A school's account sees its own stations' only (a frame naming no known station: the trust's).
  app.get('/api/rejections', { config: { permission: 'stations.view' } }, async (request) => {
    const scope = await requestScope(context, request);
    const ours = (rejection: { station: string }) => scope.everything || (rejection.station !== '' && scope.station(rejection.station));
    return {
      rejected: ingest.rejections.filter(ours).reverse(),
      replayed: ingest.replays.filter(ours).reverse(),
    };
  });

  // Server-sent events: `change` for every stored station event or status, `station` for what
  // the simulated station does physically, `state` when a station reports its state. Only what
  // the page needs goes out (no person numbers, no badge hashes); the stream ends when the
  // session does.
  app.get('/api/stream', { config: { permission: 'lockers.view' } }, (request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    reply.raw.write('retry: 2000\n\n');
    const send = (event: string, data: unknown) => reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    // Only the changes at the account's schools' stations (issue 16).
    const scoped = requestScope(context, request);
    const onChange = (change: { kind: string; stationId: string; status?: string; frame?: { type: number; locker?: number } }) =>
      void scoped.then((scope) => scope.station(change.stationId) && send('change', { kind: change.kind, stationId: change.stationId, status: change.status, type: change.frame?.type, locker: change.frame?.locker }));
    const seesDemo = demoFor(request);
    const onPhysical = (step: { step: string; locker?: number }) => void seesDemo.then((shown) => shown && send('station', { step: step.step, locker: step.locker }));
    const onState = (state: { stationId: string; online?: boolean }) => void scoped.then((scope) => scope.station(state.stationId) && send('state', { stationId: state.stationId, online: state.online }));
    ingest.on('change', onChange);
    demo?.on('physical', onPhysical);
    link?.on('state', onState);
    link?.on('status', onState);
    const accountId = request.account!.id;
    const sessionId = request.session.sessionId;
    const heartbeat = setInterval(() => {
      // Signed out, disabled or given a new password since: end the stream.
      request.sessionStore.get(sessionId, (error, session) => {
        if (error || !session) return reply.raw.end();
        context.accounts.active(accountId).then((account) => (account ? reply.raw.write(': heartbeat\n\n') : reply.raw.end()), () => reply.raw.end());
      });
    }, STREAM_CHECK_MS);
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      ingest.off('change', onChange);
      demo?.off('physical', onPhysical);
      link?.off('state', onState);
      link?.off('status', onState);
    });
  });

  app.get('/api/demo/cards', { config: { permission: 'demo.tap' } }, async (request, reply) => {
    const demo = await demoFor(request);
    if (!demo) return reply.code(404).send({ error: 'no simulated station is running (start with `npm start`)' });
    return { cards: demo.cards(), items: demo.items().map((item) => ({ uid: item.uid, tag: item.tag, name: item.name, locker: item.homeLocker })), spares: demo.spares() };
  });

  app.post('/api/demo/tap', { config: { permission: 'demo.tap' } }, async (request, reply) => {
    const demo = await demoFor(request);
    if (!demo) return reply.code(404).send({ error: 'no simulated station is running (start with `npm start`)' });
    const uid = ((request.body ?? {}) as { uid?: unknown }).uid;
    if (typeof uid !== 'string') return reply.code(400).send({ error: 'send {"uid": "<card id in hex>"}' });
    const found = demo.find(uid);
    if (!found) return reply.code(400).send({ error: `no demo card, item tag or spare card ${uid}; GET /api/demo/cards lists them` });
    // The audit names the demo card, item or spare card by its place in the list or its label, never by its chip id.
    await context.audit(request, 'web.demo-tap', { details: found.kind === 'card' ? { demoCard: demo.cards().indexOf(found.card) + 1 } : found.kind === 'item' ? { demoItem: found.item.tag } : { demoSpare: found.spare.label } });
    const chip = found.kind === 'card' ? found.card.uid : found.kind === 'item' ? found.item.uid : found.spare.uid;
    demo.tap(chip).catch((error) => context.log.warn(`demo tap ${chip}: ${(error as Error).message}`));
    return reply.code(202).send(found.kind === 'card' ? { accepted: true, uid: chip, person: found.card.name } : found.kind === 'item' ? { accepted: true, uid: chip, item: found.item.tag } : { accepted: true, uid: chip, spare: found.spare.label });
  });

  app.post('/api/demo/shut-doors', { config: { permission: 'demo.tap' } }, async (request, reply) => {
    const demo = await demoFor(request);
    if (!demo) return reply.code(404).send({ error: 'no simulated station is running (start with `npm start`)' });
    const shut = demo.shutOpenDoors();
    await context.audit(request, 'web.demo-shut-doors', { details: { lockers: shut } });
    return { shut: shut.map((locker) => locker + 1) };
  });
}
