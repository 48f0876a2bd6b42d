export { runAgent } from "./service.ts";
