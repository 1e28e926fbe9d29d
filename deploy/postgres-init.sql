-- The application database beside Temporal's own (temporal, temporal_visibility).
CREATE USER smsflow WITH PASSWORD 'smsflow';
CREATE DATABASE smsflow OWNER smsflow;
