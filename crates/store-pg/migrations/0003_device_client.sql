-- certmail store schema, version 3: the mail program's name on the device record.
--
-- RFC 2971 ID: a client may name itself ("name", "version"); the device registry keeps the
-- latest name a client of the device gave, so people recognise their devices on the web,
-- in GET /api/devices and in `certmail device list`. NULL until a client says.
ALTER TABLE devices ADD COLUMN client text;
