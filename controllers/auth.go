package controllers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tiktok/auth"
	"tiktok/errs"
	"tiktok/middleware"
)

// Auth serves registration, login, token refresh, logout and password changes
// (Prisma version: src/controllers/userController.js, register/login). The session flows
// themselves are auth.Service's.
type Auth struct {
	Sessions *auth.Service
}

type registerInput struct {
	Username string  `json:"username"`
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Name     *string `json:"name"`
}

// Register creates a user (POST /api/users/register). Of two racing sign-ups with one e-mail,
// one gets 201 and the other 409.
func (a *Auth) Register(c *gin.Context) error {
	var in registerInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	in.Username = strings.TrimSpace(in.Username)
	in.Email = strings.TrimSpace(in.Email)
	in.Name = cleanText(in.Name)
	var problems errs.Problems
	checkUsername(in.Username, in.Email, &problems)
	checkEmail(in.Email, &problems)
	checkNewPassword("password", in.Password, &problems)
	checkLength("name", in.Name, maxNameChars, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	u, err := a.Sessions.Register(c.Request.Context(), auth.Registration{
		Username: in.Username, Email: in.Email, Password: in.Password, Name: in.Name})
	if err != nil {
		return err
	}
	// The registrant typed this e-mail a moment ago: showing it back reveals nothing.
	c.JSON(http.StatusCreated, gin.H{"message": "User registered successfully", "user": a.Sessions.Store.Users.ProfileOf(u, u.ID, false)})
	return nil
}

type loginInput struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Login checks credentials and opens a session (POST /api/users/login): an access token, a
// refresh token and the user. If both e-mail and username come, the e-mail is used.
func (a *Auth) Login(c *gin.Context) error {
	var in loginInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	creds := auth.Credentials{Field: "email", Login: strings.TrimSpace(in.Email), Password: in.Password}
	if creds.Login == "" {
		creds.Field, creds.Login = "username", strings.TrimSpace(in.Username)
	}
	var problems errs.Problems
	if creds.Login == "" {
		problems.Add("email", "is required")
	}
	checkGivenPassword("password", in.Password, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	pair, u, err := a.Sessions.Login(c.Request.Context(), creds)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"token": pair.AccessToken, "refreshToken": pair.RefreshToken, "user": a.Sessions.Store.Users.ProfileOf(u, u.ID, false)})
	return nil
}

type refreshInput struct {
	RefreshToken string `json:"refreshToken"`
}

// Refresh spends a refresh token for a new pair (POST /api/users/refresh); a spent token
// presented again revokes its session.
func (a *Auth) Refresh(c *gin.Context) error {
	var in refreshInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	if in.RefreshToken == "" {
		return errs.InvalidField("refreshToken", "is required")
	}
	pair, err := a.Sessions.Refresh(c.Request.Context(), in.RefreshToken)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"token": pair.AccessToken, "refreshToken": pair.RefreshToken})
	return nil
}

// Logout ends sessions (POST /api/users/logout): with a refreshToken, that session; with
// ?all=true, every session and every access token of the user.
func (a *Auth) Logout(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	var in refreshInput
	if c.Request.ContentLength != 0 {
		if err := middleware.BindJSON(c, &in); err != nil {
			return err
		}
	}
	all, _ := strconv.ParseBool(c.Query("all"))
	if err := a.Sessions.Logout(c.Request.Context(), viewer, in.RefreshToken, all); err != nil {
		return err
	}
	msg := "Logged out successfully"
	if all {
		msg = "Logged out from all sessions"
	}
	c.JSON(http.StatusOK, gin.H{"message": msg})
	return nil
}

type passwordInput struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// ChangePassword sets a new password (PUT /api/users/:id/password, self only). Every access
// and refresh token issued before stops working; the answer carries a fresh pair.
func (a *Auth) ChangePassword(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	if id != viewer {
		return errs.Forbidden("You can only change your own password")
	}
	var in passwordInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	var problems errs.Problems
	checkGivenPassword("currentPassword", in.CurrentPassword, &problems)
	checkNewPassword("newPassword", in.NewPassword, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	pair, err := a.Sessions.ChangePassword(c.Request.Context(), id, in.CurrentPassword, in.NewPassword)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"message": "Password updated successfully", "token": pair.AccessToken, "refreshToken": pair.RefreshToken})
	return nil
}
