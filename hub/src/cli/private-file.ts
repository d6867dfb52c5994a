// Files the command line writes with people's records in them (report CSVs, subject access
// exports): readable by the account that ran the command only, like the database they came from,
// even when a file of that name was already there with a wider mode.
import fs from 'node:fs';

export function writePrivateFile(file: string, text: string): void {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}
