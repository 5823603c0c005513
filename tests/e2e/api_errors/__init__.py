"""Every row of SPEC section 2's error table, over HTTP, in JSON and in XML: status, exact
message, headers (WWW-Authenticate on 401, Allow on 405) and the one envelope."""
