// A bench's child process reads its plan as one JSON document on standard input (trust.bench.ts's
// station generator and hub processes).
export function readStdinJson<T>(): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let text = '';
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => {
      try {
        resolve(JSON.parse(text) as T);
      } catch (error) {
        reject(error);
      }
    });
  });
}
