-- Every battery reading a clicker's hello reported, for the trend that warns before it runs flat.
CREATE TABLE battery_readings (
    device_id TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    mv        INTEGER NOT NULL
);
CREATE INDEX battery_readings_device ON battery_readings (device_id, at_ms);
