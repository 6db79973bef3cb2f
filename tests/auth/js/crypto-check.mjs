// Cross-checks Hearth's Python crypto against better-auth's own code (tests/auth/test_crypto.py).
//   node crypto-check.mjs hash <password>            -> a hash made by better-auth
//   node crypto-check.mjs verify <hash> <password>   -> "true" / "false"
//   node crypto-check.mjs sign <secret> <token>      -> better-call's signed cookie value
import { hashPassword, verifyPassword } from "better-auth/crypto";
import { serializeSignedCookie } from "better-call";

const [command, a, b] = process.argv.slice(2);
if (command === "hash") {
  process.stdout.write(await hashPassword(a));
} else if (command === "verify") {
  process.stdout.write(String(await verifyPassword({ hash: a, password: b })));
} else if (command === "sign") {
  const cookie = await serializeSignedCookie("c", b, a);
  process.stdout.write(cookie.slice(2).split(";")[0]);
} else {
  throw new Error(`unknown command ${command}`);
}
