"""Campus security devices: decoders for what cameras, video platforms and alarm boxes send.

    isapi.py     Hikvision ISAPI `EventNotificationAlert` (bare XML or multipart with snapshots)
    gb28181.py   GB/T 28181 MANSCDP `Notify` Alarm and Keepalive bodies (or whole SIP MESSAGEs)
    alarmbox.py  the alarm-box JSON form (one-key alarm, fence, access control)
    counter.py   the counter JSON form (pick-up centres' vehicle counters and barriers)
    xml.py       the one way to parse untrusted device XML (no DTD, no entities, size cap, GB2312)
    record.py    `VendorSecurityRecord`, what every decoder returns, and `taxonomy_of` onto our event types
    http.py      the HTTP gateway that stores every posted body unchanged as a raw envelope

The encoders that write device-shaped payloads live with the simulator
(`safecampus/simulator/security_payloads.py`): they are not a connector.
"""
