-- One database per service. Read by postgres.sh and run by the postgres image at first start.
create database pulse_profiles;
create database pulse_feedback;
create database pulse_scoring;
create database pulse_alerts;
create database pulse_auth;
