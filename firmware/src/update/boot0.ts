// The station's boot step (issue 19): `npm run flash` writes it, and the firmware puts it in place
// at boot should it be missing (never over one: see firmware-update.ts). Its files are named in protocol/firmware.ts.

/**
 * The boot step, `.boot0` (plain ES5 for the interpreter; Espruino runs it before `.bootcde`).
 * fw.boot holds {s: state, w: seconds to confirm, n: boots tried, y: why it went back}:
 *  i (install asked) -> copy .bootcde to fw.prev -> c -> copy fw.new to .bootcde -> t (trying)
 *  t: each boot counts; a fourth boot without confirmation (watchdog, crash) -> b; and a timer gives
 *     the new bundle w seconds to be confirmed by the hub (the firmware erases fw.boot), else -> b
 *     and a reboot; the watchdog is armed so a bundle that hangs or throws at boot is reset too
 *  b (going back) -> copy fw.prev to .bootcde -> r (the firmware reports it and erases fw.boot)
 * Each step is written before the next begins and every copy is redone whole, so a power cut
 * anywhere leaves a state that finishes at the next boot; a cut while fw.boot itself is written
 * leaves it unreadable, taken as i while fw.new is there (nothing copied over .bootcde yet), else
 * b. A copy erases its target first and compacts Storage if the space after the last file is short: a compaction moves files, and must
 * not do so while a file is being copied out of flash.
 */
// A function, not a constant: on the interpreter a top-level string lives in RAM for good; a
// literal inside a function body stays in flash until the function runs (once a boot).
export function boot0Source(): string {
  return (
    '(function(){var S=require("Storage"),B="fw.boot",b=S.readJSON(B,1);' +
  // fw.boot torn by a power cut while written (it reads as no JSON): with fw.new still there the
  // install had not begun copying it (redo it), without it the new bundle may be on .bootcde
  // (go back): never left running an unchecked bundle with no way back.
  'if(!b&&S.read(B)!==undefined)b={s:S.read("fw.new")!==undefined?"i":"b",w:300,y:"w"};if(!b||!b.s)return;' +
  'function put(){S.write(B,JSON.stringify(b));}' +
  'function cp(a,d){if(S.read(a)===undefined)return;S.erase(d);if(S.getFree()<S.read(a).length+4096)S.compact();S.write(d,S.read(a));}' +
  'if(b.s=="i"){cp(".bootcde","fw.prev");b.s="c";put();}' +
  'if(b.s=="c"){cp("fw.new",".bootcde");S.erase("fw.new");b.s="t";b.n=0;put();}' +
  'if(b.s=="t"){b.n=(b.n|0)+1;if(b.n>3){b.s="b";b.y="w";}put();}' +
  'if(b.s=="b"){cp("fw.prev",".bootcde");b.s="r";put();}' +
  'if(b.s=="t"){E.enableWatchdog((b.w|0)+20,false);setTimeout(function(){var c=S.readJSON(B,1);if(c&&c.s=="t"){c.s="b";c.y="c";S.write(B,JSON.stringify(c));require("ESP32").reboot();}},(b.w|0)*1000);}' +
    '})();'
  );
}
