package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestDefaultsAreTheDocumentedOnes(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8000 || c.AppEnv != EnvDevelopment || c.JWTExpiresIn != 24*time.Hour || c.BcryptCost != 10 ||
		c.MaxVideoMB != 100 || c.DBConnectTimeout != 30*time.Second || c.RateLoginPerIP != 30 ||
		c.RateLoginFailsPerAccount != 10 || c.RateRegisterPerIP != 10 || len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "*" ||
		c.LogFormat != "text" || !c.AutoMigrate || c.MaxJSONBytes != 1<<20 || c.DBMaxIdleConns != c.DBMaxOpenConns ||
		c.BodyReadTimeout != 10*time.Second || c.UploadReadTimeout != 10*time.Minute || c.DBMaxOpenConns != 12 ||
		c.InflightRequests != 0 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if !c.JWTSecretGenerated || len(c.JWTSecret) < 32 {
		t.Fatalf("development without JWT_SECRET should get a random secret, got %q", c.JWTSecret)
	}
}

func TestBadValuesStopTheStartNamingTheVariable(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"port is not a number", "PORT", "eighty", "PORT"},
		{"port out of range", "PORT", "70000", "between 1 and 65535"},
		{"duration without unit", "JWT_EXPIRES_IN", "24", "JWT_EXPIRES_IN"},
		{"zero lifetime", "REFRESH_TOKEN_TTL", "0s", "REFRESH_TOKEN_TTL"},
		{"bcrypt cost too low", "BCRYPT_COST", "3", "BCRYPT_COST"},
		{"unknown environment", "APP_ENV", "staging", "APP_ENV"},
		{"unknown log format", "LOG_FORMAT", "xml", "LOG_FORMAT"},
		{"boolean", "AUTO_MIGRATE", "sometimes", "AUTO_MIGRATE"},
		{"negative rate limit", "RATE_LOGIN_PER_IP", "-1", "RATE_LOGIN_PER_IP"},
		{"database URL scheme", "DATABASE_URL", "mysql://x", "DATABASE_URL"},
		{"idle above open", "DB_MAX_IDLE_CONNS", "500", "DB_MAX_IDLE_CONNS"},
		{"zero body deadline", "BODY_READ_TIMEOUT", "0s", "BODY_READ_TIMEOUT"},
		{"upload deadline without unit", "UPLOAD_READ_TIMEOUT", "600", "UPLOAD_READ_TIMEOUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.key: tc.value}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s=%q: want an error mentioning %q, got %v", tc.key, tc.value, tc.want, err)
			}
		})
	}
}

func TestAllProblemsAreReportedAtOnce(t *testing.T) {
	_, err := Load(env(map[string]string{"PORT": "x", "BCRYPT_COST": "99"}))
	if err == nil || !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), "BCRYPT_COST") {
		t.Fatalf("want both variables named, got %v", err)
	}
}

func TestProductionRefusesAWeakSecret(t *testing.T) {
	cases := map[string]string{
		"missing": "",
		"short":   "only-20-bytes-secret",
		"example": ExampleJWTSecret,
	}
	for name, secret := range cases {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"APP_ENV": "production"}
			if secret != "" {
				vars["JWT_SECRET"] = secret
			}
			_, err := Load(env(vars))
			if err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
				t.Fatalf("production with a %s secret must not start, got %v", name, err)
			}
		})
	}
	c, err := Load(env(map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("k", 32)}))
	if err != nil {
		t.Fatalf("a 32-byte secret is enough: %v", err)
	}
	if c.LogFormat != "json" {
		t.Fatalf("production logs default to JSON, got %s", c.LogFormat)
	}
}

func TestSettingsAreParsed(t *testing.T) {
	c, err := Load(env(map[string]string{
		"PORT": "9000", "CORS_ORIGINS": "http://localhost:3000, https://app.example.com",
		"JWT_EXPIRES_IN": "90m", "APP_ENV": "TEST", "AUTO_MIGRATE": "false", "JWT_SECRET": "s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.JWTExpiresIn != 90*time.Minute || c.AppEnv != EnvTest || c.AutoMigrate ||
		len(c.CORSOrigins) != 2 || c.CORSOrigins[1] != "https://app.example.com" || c.JWTSecret != "s" || c.JWTSecretGenerated {
		t.Fatalf("parsed %+v", c)
	}
}

// s3Env is a complete STORAGE=s3 configuration.
func s3Env(edit map[string]string) map[string]string {
	vars := map[string]string{
		"STORAGE": "s3", "S3_ENDPOINT": "http://127.0.0.1:7070", "S3_BUCKET": "tiktok",
		"S3_ACCESS_KEY": "key", "S3_SECRET_KEY": "secret", "S3_PUBLIC_BASE_URL": "http://127.0.0.1:7070/tiktok/",
	}
	for k, v := range edit {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	return vars
}

func TestStorageDefaultsToTheLocalDisk(t *testing.T) {
	c, err := Load(env(map[string]string{"S3_ENDPOINT": "not checked unless STORAGE=s3"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage != StorageLocal || c.UploadDir != "uploads" {
		t.Fatalf("Storage %q, UploadDir %q", c.Storage, c.UploadDir)
	}
}

func TestStorageS3ReadsItsSettings(t *testing.T) {
	c, err := Load(env(s3Env(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage != StorageS3 || c.S3Endpoint != "http://127.0.0.1:7070" || c.S3Region != "us-east-1" ||
		c.S3Bucket != "tiktok" || c.S3AccessKey != "key" || c.S3SecretKey != "secret" ||
		c.S3PublicBaseURL != "http://127.0.0.1:7070/tiktok" || !c.S3PathStyle {
		t.Fatalf("parsed %+v", c)
	}
	c, err = Load(env(s3Env(map[string]string{"S3_PATH_STYLE": "false", "S3_REGION": "eu-west-1", "STORAGE": "S3"})))
	if err != nil || c.S3PathStyle || c.S3Region != "eu-west-1" || c.Storage != StorageS3 {
		t.Fatalf("parsed %+v, %v", c, err)
	}
}

func TestStorageS3RefusesMissingOrBadSettingsNamingThem(t *testing.T) {
	cases := []struct {
		name string
		edit map[string]string
		want string
	}{
		{"unknown store", map[string]string{"STORAGE": "gcs"}, "STORAGE"},
		{"no endpoint", map[string]string{"S3_ENDPOINT": ""}, "S3_ENDPOINT"},
		{"no bucket", map[string]string{"S3_BUCKET": ""}, "S3_BUCKET"},
		{"no access key", map[string]string{"S3_ACCESS_KEY": ""}, "S3_ACCESS_KEY"},
		{"no secret key", map[string]string{"S3_SECRET_KEY": ""}, "S3_SECRET_KEY"},
		{"no public URL", map[string]string{"S3_PUBLIC_BASE_URL": ""}, "S3_PUBLIC_BASE_URL"},
		{"endpoint without scheme", map[string]string{"S3_ENDPOINT": "127.0.0.1:7070"}, "S3_ENDPOINT"},
		{"endpoint with a path", map[string]string{"S3_ENDPOINT": "http://127.0.0.1:7070/tiktok"}, "S3_ENDPOINT"},
		{"bucket with capitals", map[string]string{"S3_BUCKET": "TikTok"}, "S3_BUCKET"},
		{"relative public URL", map[string]string{"S3_PUBLIC_BASE_URL": "/media"}, "S3_PUBLIC_BASE_URL"},
		{"public URL with a query", map[string]string{"S3_PUBLIC_BASE_URL": "https://cdn.example.com/?a=1"}, "S3_PUBLIC_BASE_URL"},
		{"path style not a boolean", map[string]string{"S3_PATH_STYLE": "maybe"}, "S3_PATH_STYLE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(s3Env(tc.edit)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %s, got %v", tc.want, err)
			}
			if strings.Contains(fmt.Sprint(err), "secret") {
				t.Fatalf("the error shows the secret key: %v", err)
			}
		})
	}
}

func TestPprofAddr(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.PprofAddr != "" {
		t.Fatalf("PPROF_ADDR must default to empty (off), got %q, %v", c.PprofAddr, err)
	}
	for _, ok := range []string{"127.0.0.1:6060", "localhost:6061", "[::1]:6060", ":6060"} {
		c, err := Load(env(map[string]string{"PPROF_ADDR": ok}))
		if err != nil || c.PprofAddr != ok {
			t.Errorf("PPROF_ADDR=%q: got %q, %v", ok, c.PprofAddr, err)
		}
	}
	for value, want := range map[string]string{
		"6060":            "host:port",
		"127.0.0.1":       "host:port",
		"127.0.0.1:pprof": "host:port",
		"127.0.0.1:70000": "host:port",
		"127.0.0.1:8000":  "API's port",
	} {
		_, err := Load(env(map[string]string{"PPROF_ADDR": value}))
		if err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") || !strings.Contains(err.Error(), want) {
			t.Errorf("PPROF_ADDR=%q: want an error naming PPROF_ADDR and %q, got %v", value, want, err)
		}
	}
	if _, err := Load(env(map[string]string{"PORT": "9000", "PPROF_ADDR": "127.0.0.1:9000"})); err == nil {
		t.Error("PPROF_ADDR on PORT's port must be refused")
	}
}
