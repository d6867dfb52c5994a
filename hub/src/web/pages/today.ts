// Today at a glance: deposits and collections per five minutes across the day (the registration
// rush and home time stand out), phones in lockers now against the number on roll, and loans out
// by asset class — all drawn here from the hub's own records.
import type { FastifyInstance } from 'fastify';
import { EVENT } from '../../../../protocol/wire';
import { bucketDayCounts, clock, dayChart, SLOT_MINUTES } from '../chart';
import type { WebContext } from '../context';
import { requestSqlScope } from '../scope';
import { countPhonesIn } from '../../records/phones-in-list';
import { html, plural, type Html } from '../html';

/** A bar filled to `percent`, as SVG (the page's security policy allows no inline styles). */
function meter(percent: number, label: string): Html {
  const width = Math.max(0, Math.min(100, percent));
  return html`<svg class="meter" viewBox="0 0 100 6" preserveAspectRatio="none" role="img" aria-label="${label}"><rect class="track" width="100" height="6"/><rect class="fill" width="${width}" height="6"/></svg>`;
}

export function registerToday(app: FastifyInstance, context: WebContext): void {
  const { db } = context.records;

  app.get('/today', { config: { permission: 'today.view' } }, async (request, reply) => {
    const now = new Date();
    const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    const end = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
    // When each tap happened: the station's own clock when it had been given the time (a journal
    // replayed after a network cut arrives late, but keeps its moments), else when the hub got it.
    // Of the account's schools (issue 16): their stations, pupils and assets.
    const scope = await requestSqlScope(context, request);
    const site = scope.where('s.site');
    const school = scope.where('school');
    const assetSchool = scope.where('a.school');
    // Counted per minute by the database (a trust's day is 150,000 taps), by the station's minute or the hub's.
    const events = await db.all<{ type: number; wall_minute: number | null; received_minute: string | null; n: number }>(
      `SELECT e.type, CASE WHEN e.wall_time > 0 THEN e.wall_time / 60000 ELSE NULL END AS wall_minute,
         CASE WHEN e.wall_time > 0 THEN NULL ELSE substr(e.received_at, 1, 16) END AS received_minute, COUNT(*) AS n
       FROM station_events e ${scope.everything ? '' : 'JOIN stations s ON s.id = e.station_id'} WHERE e.type IN (?, ?) AND e.received_at >= ?${scope.everything ? '' : ` AND ${site.sql}`}
       GROUP BY e.type, wall_minute, received_minute`,
      [EVENT.DEPOSIT, EVENT.COLLECT, start.toISOString(), ...(scope.everything ? [] : site.params)],
    );
    const momentOf = (event: { wall_minute: number | null; received_minute: string | null }) => (event.wall_minute !== null ? new Date(Number(event.wall_minute) * 60_000).toISOString() : `${event.received_minute}:00.000Z`);
    const todays = events.map((event) => ({ type: Number(event.type), at: momentOf(event), count: Number(event.n) })).filter((event) => event.at >= start.toISOString() && event.at < end.toISOString());
    const deposits = todays.filter((event) => event.type === EVENT.DEPOSIT);
    const collections = todays.filter((event) => event.type === EVENT.COLLECT);
    const total = (moments: Array<{ count: number }>) => moments.reduce((sum, moment) => sum + moment.count, 0);
    const buckets = bucketDayCounts(deposits, collections);
    const today = now.toISOString().slice(0, 10);
    const [phonesIn, roll, exempt, classes] = await Promise.all([
      countPhonesIn(db, { scope, heldLockers: 'leave-out' }),
      db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM people WHERE kind = 'pupil' AND purged_at IS NULL AND (left_on IS NULL OR left_on > ?) AND ${school.sql}`, [today, ...school.params]),
      db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM people WHERE kind = 'pupil' AND medical_exempt = 1 AND purged_at IS NULL AND (left_on IS NULL OR left_on > ?) AND ${school.sql}`, [today, ...school.params]),
      db.all<{ id: string; name: string; assets: number; out: number }>(
        `SELECT c.id, c.name, COUNT(a.id) AS assets, COUNT(l.id) AS out FROM asset_classes c
         LEFT JOIN assets a ON a.class_id = c.id AND a.status NOT IN ('retired', 'written-off') AND ${assetSchool.sql}
         LEFT JOIN loans l ON l.asset_id = a.id AND l.closed_at IS NULL
         GROUP BY c.id, c.name, c.code ORDER BY c.code`,
        assetSchool.params,
      ),
    ]);
    const onRoll = Number(roll?.n ?? 0);
    const percent = onRoll ? Math.round((100 * phonesIn) / onRoll) : 0;
    const busiest = buckets.slots
      .map((minute, index) => ({ minute, deposits: buckets.deposits[index], collections: buckets.collections[index] }))
      .filter((slot) => slot.deposits || slot.collections);
    await context.audit(request, 'web.viewed', { details: { page: '/today' } });
    return context.render(request, reply, {
      title: 'Today at a glance',
      section: '/today',
      body: html`
        <div class="tiles">
          <section aria-labelledby="phones-title"><h2 id="phones-title">Phones in lockers</h2>
            <p class="big"><strong>${phonesIn}</strong> of ${onRoll} pupils on roll (${percent}%)</p>
            ${meter(percent, `${phonesIn} of ${onRoll} pupils on roll have a phone in a locker`)}
            <p class="hint">${Number(exempt?.n ?? 0)} pupil${Number(exempt?.n ?? 0) === 1 ? ' has' : 's have'} a medical exemption and keep${Number(exempt?.n ?? 0) === 1 ? 's' : ''} their phone (P3).</p>
          </section>
          <section aria-labelledby="loans-title"><h2 id="loans-title">Loans out by asset class</h2>
            ${classes.length
              ? html`<table class="data"><thead><tr><th scope="col">Class</th><th scope="col">Out</th><th scope="col">Registered</th></tr></thead>
                <tbody>${classes.map((row) => html`<tr><th scope="row">${row.name}</th><td>${Number(row.out)}</td><td>${Number(row.assets)}</td></tr>`)}</tbody></table>
                ${classes.map((row) => {
                  const share = Number(row.assets) ? Math.round((100 * Number(row.out)) / Number(row.assets)) : 0;
                  return html`<p class="bar-label">${row.name}: ${Number(row.out)} out</p>${meter(share, `${row.name}: ${Number(row.out)} of ${Number(row.assets)} out`)}`;
                })}`
              : html`<p class="empty">No asset classes.</p>`}
          </section>
        </div>
        <section aria-labelledby="chart-heading" class="chart"><h2 id="chart-heading">Deposits and collections per ${SLOT_MINUTES} minutes today</h2>
          <ul class="legend"><li><span class="swatch deposits"></span>Deposits (${total(deposits)})</li><li><span class="swatch collections"></span>Collections (${total(collections)})</li></ul>
          <div class="chart-scroll" role="region" tabindex="0" aria-label="Chart: deposits and collections today (scrolls sideways on a narrow screen)">${dayChart(buckets, {
            title: `Deposits and collections per ${SLOT_MINUTES} minutes, ${now.toLocaleDateString('en-GB', { weekday: 'long', day: 'numeric', month: 'long' })}`,
            description: `${plural(total(deposits), 'deposit')} and ${plural(total(collections), 'collection')} so far today.`,
          })}</div>
          <details><summary>Show the numbers</summary>
            ${busiest.length
              ? html`<table class="data"><thead><tr><th scope="col">From</th><th scope="col">Deposits</th><th scope="col">Collections</th></tr></thead>
                <tbody>${busiest.map((slot) => html`<tr><td>${clock(slot.minute)}</td><td>${slot.deposits}</td><td>${slot.collections}</td></tr>`)}</tbody></table>`
              : html`<p class="empty">No deposits or collections yet today.</p>`}
          </details>
        </section>`,
    });
  });
}
