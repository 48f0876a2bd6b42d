import type { AuthUser } from "@rd/auth";

declare global {
  namespace App {
    interface Locals {
      user: AuthUser | null;
      sessionId: string | null;
      csrfToken: string;
      clientIp: string;
    }
    interface Error {
      message: string;
    }
  }
}

export {};
